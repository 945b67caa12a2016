import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { API_ENV, ENV, launchSettings, parseEnv } from '../env';
import type { HttpEvent, HttpResult } from '../http';
import { loadRosterFile } from '../roster';
import { lazy } from './lazy';
import { originChecked } from './origin';

const logger = new Logger();
const env = parseEnv(API_ENV);
const roster = loadRosterFile();

const ready = lazy(async () => {
  const [{ documentClient }, { ecsClient }, { createApiHandler }] = await Promise.all([
    import('../aws/dynamo.js'),
    import('../aws/ecs.js'),
    import('../api.js'),
  ]);
  const doc = documentClient();
  const tables = {
    sessionsTable: env[ENV.sessionsTable],
    inboxTable: env[ENV.inboxTable],
    eventsTable: env[ENV.eventsTable],
    approvalsTable: env[ENV.approvalsTable],
  };
  return createApiHandler({
    roster,
    logger,
    records: { doc, ...tables, now: Date.now },
    lifecycle: { doc, ecs: ecsClient(), ...tables, launch: launchSettings(env), now: Date.now, newSessionId: randomUUID, log: logger },
  });
});

// The origin check runs first, before the handler's clients even load.
const checked = originChecked(logger, async (event) => (await ready())(event));

export async function handler(event: HttpEvent, context: Context): Promise<HttpResult> {
  logger.addContext(context);
  return checked(event);
}
