import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { LIFECYCLE_ENV, parseEnv } from '../env';
import { lazy } from './lazy';
import { loadLifecycleDeps } from './lifecycle-deps';

const logger = new Logger();
const env = parseEnv(LIFECYCLE_ENV);
/** Time kept back from the function timeout so a tick always ends cleanly and logs its stats. */
const MARGIN_MS = 10_000;

const ready = lazy(async () => {
  const [deps, { reapTick }] = await Promise.all([loadLifecycleDeps(env, logger), import('../reaper.js')]);
  return { deps, reapTick };
});

export async function handler(_event: unknown, context: Context): Promise<void> {
  logger.addContext(context);
  const { deps, reapTick } = await ready();
  logger.appendKeys({ request_id: context.awsRequestId });
  try {
    await reapTick({
      ...deps,
      deadline: Date.now() + context.getRemainingTimeInMillis() - MARGIN_MS,
      sleepMs: (ms: number) => sleep(ms),
      requestId: context.awsRequestId,
    });
  } finally {
    logger.resetKeys();
  }
}
