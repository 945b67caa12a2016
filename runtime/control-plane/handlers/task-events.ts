import type { Context, EventBridgeEvent } from 'aws-lambda';
import { STARTED_BY } from '../../shared/names';
import { ENV, LIFECYCLE_ENV, parseEnv } from '../env';
import { lazy } from './lazy';
import { functionLogger } from './logger';

const env = parseEnv(LIFECYCLE_ENV);

const ready = lazy(async () => {
  const [logger, { loadLifecycleDeps }, { createTaskEventHandler }] = await Promise.all([
    functionLogger(),
    import('./lifecycle-deps.js'),
    import('../task-events.js'),
  ]);
  return createTaskEventHandler(await loadLifecycleDeps(env, logger), logger);
});

/**
 * Whether an event can concern this deployment's sessions: the rule (lib/constructs/lifecycle-functions.ts)
 * sends only this cluster's tasks started by Cubicle, so anything else (a hand-made test event, a rule edited
 * by hand) is dropped here before any client loads; task-events.ts checks the same again with the rest.
 */
function ours(event: EventBridgeEvent<string, unknown>): boolean {
  const detail = event.detail as { clusterArn?: unknown; startedBy?: unknown } | undefined;
  return detail?.clusterArn === env[ENV.clusterArn] && detail?.startedBy === STARTED_BY;
}

export async function handler(event: EventBridgeEvent<string, unknown>, context: Context): Promise<void> {
  const logger = await functionLogger();
  logger.addContext(context);
  if (!ours(event)) {
    logger.warn('ignored a task state event of another cluster or starter', { request_id: event.id ?? 'unknown' });
    return;
  }
  await (
    await ready()
  )(event);
}
