import type { Context } from 'aws-lambda';
import { API_ENV, ENV, parseEnv } from '../env';
import type { HttpEvent, HttpResult } from '../http';
import { loadRosterFile } from '../roster';
import { loadAuthenticator } from './auth';
import { lazy } from './lazy';
import { functionLogger } from './logger';
import { originChecked } from './origin';
import { deferredSealer } from './sealer';

// Cold start: the environment, the roster and the token settings only (a bad one fails here).
const env = parseEnv(API_ENV);
const auth = loadAuthenticator(loadRosterFile());

const ready = lazy(async () => {
  const [logger, { loadLifecycleDeps }, { createApiHandler }, { UsageLedger }] = await Promise.all([
    functionLogger(),
    import('./lifecycle-deps.js'),
    import('../api.js'),
    import('../../shared/budget.js'),
  ]);
  const lifecycle = await loadLifecycleDeps(env, logger);
  const records = {
    chain: lifecycle.chain,
    sealer: deferredSealer(env[ENV.deployment]),
    doc: lifecycle.doc,
    sessionsTable: env[ENV.sessionsTable],
    inboxTable: env[ENV.inboxTable],
    eventsTable: env[ENV.eventsTable],
    approvalsTable: env[ENV.approvalsTable],
    idempotencyTable: env[ENV.idempotencyTable],
    now: Date.now,
  };
  const usage = new UsageLedger(lifecycle.doc, env[ENV.usageTable]);
  return createApiHandler({ auth, logger, records, lifecycle, usage });
});

// The origin check runs first, before the handler's clients even load.
const checked = originChecked(async (event) => (await ready())(event));

export async function handler(event: HttpEvent, context: Context): Promise<HttpResult> {
  const logger = await functionLogger();
  logger.addContext(context);
  return checked(event, logger);
}
