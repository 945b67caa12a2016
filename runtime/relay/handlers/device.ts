import type { Context } from 'aws-lambda';
// The authenticator's module, not the auth index: that one also exports the JWT verifier (aws-jwt-verify).
import { headerValue } from '../../control-plane/auth/authenticator';
import { parseEnv } from '../../control-plane/env';
import { loadAuthenticator } from '../../control-plane/handlers/auth';
import { lazy } from '../../control-plane/handlers/lazy';
import { functionLogger } from '../../control-plane/handlers/logger';
import { ORIGIN_ENV } from '../../control-plane/handlers/origin';
import { ORIGIN_VERIFY_HEADER, ORIGIN_VERIFY_SECRET_ENV } from '../../shared/function-contract';
import { loadRosterFile } from '../../control-plane/roster';
import { DEVICE_RELAY_ENV, RELAY_ENV } from '../env';
import { refuse, type WsEvent, type WsResult } from '../ws-event';
import { loadSealer } from './sealer';

const env = parseEnv(DEVICE_RELAY_ENV);
const auth = loadAuthenticator(loadRosterFile());
const originSecretArn = parseEnv(ORIGIN_ENV)[ORIGIN_VERIFY_SECRET_ENV];

const ready = lazy(async () => {
  const [
    logger,
    { documentClient },
    { secretsClient },
    { originSecretFetcher },
    { managementClient, managementPoster },
    { createDeviceHandler },
    { OriginVerifier, REFUSED_MESSAGE },
    opener,
  ] = await Promise.all([
    functionLogger(),
    import('../../control-plane/aws/dynamo.js'),
    import('../../control-plane/aws/secrets.js'),
    import('../../control-plane/aws/origin-secret.js'),
    import('../poster.js'),
    import('../device.js'),
    // node:crypto, on the first connect: the origin check runs before anything else there.
    import('../../control-plane/origin-verify.js'),
    loadSealer(env[RELAY_ENV.deployment]),
  ]);
  const origin = new OriginVerifier({
    now: Date.now,
    fetchValues: originSecretFetcher(secretsClient(), originSecretArn),
  });
  const handle = createDeviceHandler({
    doc: documentClient(),
    eventsTable: env[RELAY_ENV.eventsTable],
    connectionsTable: env[RELAY_ENV.connectionsTable],
    devices: managementPoster(managementClient(env[RELAY_ENV.deviceEndpoint])),
    opener,
    auth,
    log: logger,
    now: Date.now,
  });
  return { logger, origin, refused: REFUSED_MESSAGE, handle };
});

/** The origin check (CloudFront's secret header) runs on `$connect` before anything else. */
export async function handler(event: WsEvent, context: Context): Promise<WsResult> {
  const { logger, origin, refused, handle } = await ready();
  logger.addContext(context);
  if (event.requestContext.routeKey === '$connect') {
    const verdict = await origin
      .verify(headerValue(event.headers, ORIGIN_VERIFY_HEADER))
      .catch(() => 'unavailable' as const);
    if (verdict !== 'accepted') {
      logger.warn('relay connect refused: it did not come through CloudFront', {
        request_id: event.requestContext.requestId,
      });
      return verdict === 'unavailable' ? refuse(503, 'The relay is temporarily unavailable.') : refuse(403, refused);
    }
  }
  return handle(event);
}
