import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import { LIFECYCLE_ENV, parseEnv } from '../env';
import { lazy } from './lazy';
import { loadLifecycleDeps } from './lifecycle-deps';

const logger = new Logger();
const env = parseEnv(LIFECYCLE_ENV);

const ready = lazy(async () => {
  const [deps, { createTaskEventHandler }] = await Promise.all([
    loadLifecycleDeps(env, logger),
    import('../task-events.js'),
  ]);
  return createTaskEventHandler(deps, logger);
});

export async function handler(event: EventBridgeEvent<string, unknown>, context: Context): Promise<void> {
  logger.addContext(context);
  await (
    await ready()
  )(event);
}
