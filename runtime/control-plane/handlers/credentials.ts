import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { CREDENTIALS_ENV, ENV, parseEnv } from '../env';
import type { HttpEvent, HttpResult } from '../http';
import { loadRosterFile } from '../roster';
import { loadAuthenticator } from './auth';
import { lazy } from './lazy';
import { originChecked } from './origin';

const logger = new Logger();
const env = parseEnv(CREDENTIALS_ENV);
const auth = loadAuthenticator(loadRosterFile());

const ready = lazy(async () => {
  const [{ secretsClient }, { documentClient }, { createCredentialsHandler }, { chainKey }] = await Promise.all([
    import('../aws/secrets.js'),
    import('../aws/dynamo.js'),
    import('../credentials.js'),
    import('../aws/kms.js'),
  ]);
  return createCredentialsHandler({
    auth,
    logger,
    secrets: secretsClient(),
    deployment: env[ENV.deployment],
    events: { doc: documentClient(), table: env[ENV.eventsTable], chain: chainKey(env[ENV.chainKey]), now: Date.now },
  });
});

// The origin check runs first, before the handler's clients even load.
const checked = originChecked(logger, async (event) => (await ready())(event));

export async function handler(event: HttpEvent, context: Context): Promise<HttpResult> {
  logger.addContext(context);
  return checked(event);
}
