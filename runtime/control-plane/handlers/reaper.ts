import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { ENV, launchSettings, LIFECYCLE_ENV, parseEnv } from '../env';
import { lazy } from './lazy';

const logger = new Logger();
const env = parseEnv(LIFECYCLE_ENV);
/** Time kept back from the function timeout so a tick always ends cleanly and logs its stats. */
const MARGIN_MS = 10_000;

const ready = lazy(async () => {
  const [{ documentClient }, { ecsClient }, reaper] = await Promise.all([import('../aws/dynamo.js'), import('../aws/ecs.js'), import('../reaper.js')]);
  return { doc: documentClient(), ecs: ecsClient(), reapTick: reaper.reapTick };
});

export async function handler(_event: unknown, context: Context): Promise<void> {
  logger.addContext(context);
  const { doc, ecs, reapTick } = await ready();
  logger.appendKeys({ request_id: context.awsRequestId });
  try {
    await reapTick({
      doc,
      ecs,
      sessionsTable: env[ENV.sessionsTable],
      eventsTable: env[ENV.eventsTable],
      launch: launchSettings(env),
      now: Date.now,
      newSessionId: randomUUID,
      log: logger,
      deadline: Date.now() + context.getRemainingTimeInMillis() - MARGIN_MS,
      sleepMs: (ms: number) => sleep(ms),
      requestId: context.awsRequestId,
    });
  } finally {
    logger.resetKeys();
  }
}
