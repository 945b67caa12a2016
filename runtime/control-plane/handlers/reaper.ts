import type { Context } from 'aws-lambda';
import { LIFECYCLE_ENV, parseEnv } from '../env';
import { lazy } from './lazy';
import { functionLogger } from './logger';

const env = parseEnv(LIFECYCLE_ENV);
/** Time kept back from the function timeout so a tick always ends cleanly and logs its stats. */
const MARGIN_MS = 10_000;

const ready = lazy(async () => {
  const [logger, { loadLifecycleDeps }, { reapTick }] = await Promise.all([
    functionLogger(),
    import('./lifecycle-deps.js'),
    import('../reaper.js'),
  ]);
  return { logger, deps: await loadLifecycleDeps(env, logger), reapTick };
});

export async function handler(_event: unknown, context: Context): Promise<void> {
  const { logger, deps, reapTick } = await ready();
  logger.addContext(context);
  logger.appendKeys({ request_id: context.awsRequestId });
  try {
    await reapTick({
      ...deps,
      deadline: Date.now() + context.getRemainingTimeInMillis() - MARGIN_MS,
      // A timer, not node:timers/promises: an ES module import of a built-in costs the cold start (issue 15).
      sleepMs: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
      requestId: context.awsRequestId,
    });
  } finally {
    logger.resetKeys();
  }
}
