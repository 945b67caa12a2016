import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import { ENV, launchSettings, LIFECYCLE_ENV, parseEnv } from '../env';
import { lazy } from './lazy';

const logger = new Logger();
const env = parseEnv(LIFECYCLE_ENV);

const ready = lazy(async () => {
  const [{ documentClient }, { ecsClient }, { createTaskEventHandler }] = await Promise.all([
    import('../aws/dynamo.js'),
    import('../aws/ecs.js'),
    import('../task-events.js'),
  ]);
  return createTaskEventHandler({
    doc: documentClient(),
    ecs: ecsClient(),
    sessionsTable: env[ENV.sessionsTable],
    eventsTable: env[ENV.eventsTable],
    launch: launchSettings(env),
    now: Date.now,
    newSessionId: randomUUID,
    log: logger,
  }, logger);
});

export async function handler(event: EventBridgeEvent<string, unknown>, context: Context): Promise<void> {
  logger.addContext(context);
  await (await ready())(event);
}
