import type { Context } from 'aws-lambda';
// The authenticator's module, not the auth index: that one also exports the JWT verifier (aws-jwt-verify).
import { headerValue } from '../../control-plane/auth/authenticator';
import { parseEnv } from '../../control-plane/env';
import { loadAuthenticator } from '../../control-plane/handlers/auth';
import { deferredSealer } from '../../control-plane/handlers/sealer';
import { lazy } from '../../control-plane/handlers/lazy';
import { functionLogger } from '../../control-plane/handlers/logger';
import { ORIGIN_ENV, originVerifier } from '../../control-plane/handlers/origin';
import { ORIGIN_VERIFY_HEADER, ORIGIN_VERIFY_SECRET_ENV } from '../../shared/function-contract';
import { loadRosterFile } from '../../control-plane/roster';
import { DEVICE_RELAY_ENV, RELAY_ENV } from '../env';
import { refuse, type WsEvent, type WsResult } from '../ws-event';
import { deferredPoster } from './poster';

const env = parseEnv(DEVICE_RELAY_ENV);
const auth = loadAuthenticator(loadRosterFile());

/** The origin check alone, so a connect that did not come through CloudFront loads nothing else. */
const origin = originVerifier(parseEnv(ORIGIN_ENV)[ORIGIN_VERIFY_SECRET_ENV]);

const ready = lazy(async () => {
  const [logger, { documentClient }, { createDeviceHandler }] = await Promise.all([
    functionLogger(),
    import('../../control-plane/aws/dynamo.js'),
    import('../device.js'),
  ]);
  return createDeviceHandler({
    doc: documentClient(),
    eventsTable: env[RELAY_ENV.eventsTable],
    connectionsTable: env[RELAY_ENV.connectionsTable],
    devices: deferredPoster(env[RELAY_ENV.deviceEndpoint]),
    opener: deferredSealer(env[RELAY_ENV.deployment]),
    auth,
    log: logger,
    now: Date.now,
  });
});

/** The origin check (CloudFront's secret header) runs on `$connect` before anything else loads. */
export async function handler(event: WsEvent, context: Context): Promise<WsResult> {
  const logger = await functionLogger();
  logger.addContext(context);
  if (event.requestContext.routeKey === '$connect') {
    const { verifier, originVerify } = await origin();
    const verdict = await verifier
      .verify(headerValue(event.headers, ORIGIN_VERIFY_HEADER))
      .catch(() => 'unavailable' as const);
    if (verdict !== 'accepted') {
      logger.warn('relay connect refused: it did not come through CloudFront', {
        request_id: event.requestContext.requestId,
      });
      return verdict === 'unavailable'
        ? refuse(503, 'The relay is temporarily unavailable.')
        : refuse(403, originVerify.REFUSED_MESSAGE);
    }
  }
  return (await ready())(event);
}
