import type { Context } from 'aws-lambda';
import { CREDENTIALS_ENV, ENV, parseEnv } from '../env';
import type { HttpEvent, HttpResult } from '../http';
import { loadRosterFile } from '../roster';
import { loadAuthenticator } from './auth';
import { lazy } from './lazy';
import { functionLogger } from './logger';
import { originChecked } from './origin';

// Cold start: the environment, the roster and the token settings only (a bad one fails here).
const env = parseEnv(CREDENTIALS_ENV);
const auth = loadAuthenticator(loadRosterFile());

const ready = lazy(async () => {
  const [logger, { secretsClient }, { documentClient }, { createCredentialsHandler }, { chainKey }] = await Promise.all(
    [
      functionLogger(),
      import('../aws/secrets.js'),
      import('../aws/dynamo.js'),
      import('../credentials.js'),
      import('../aws/kms.js'),
    ],
  );
  return createCredentialsHandler({
    auth,
    logger,
    secrets: secretsClient(),
    deployment: env[ENV.deployment],
    events: { doc: documentClient(), table: env[ENV.eventsTable], chain: chainKey(env[ENV.chainKey]), now: Date.now },
  });
});

// The origin check runs first, before the handler's clients even load.
const checked = originChecked(async (event) => (await ready())(event));

export async function handler(event: HttpEvent, context: Context): Promise<HttpResult> {
  const logger = await functionLogger();
  logger.addContext(context);
  return checked(event, logger);
}
