import type { Context } from 'aws-lambda';
import { ENV, LAUNCHER_ENV, parseEnv, taskNetwork } from '../env';
import { lazy } from './lazy';
import { functionLogger } from './logger';

const env = parseEnv(LAUNCHER_ENV);

const ready = lazy(async () => {
  const [logger, { documentClient }, { ecsClient }, { launchSession }, { chainKey }] = await Promise.all([
    functionLogger(),
    import('../aws/dynamo.js'),
    import('../aws/ecs.js'),
    import('../launcher.js'),
    import('../aws/kms.js'),
  ]);
  const deps = {
    doc: documentClient(),
    ecs: ecsClient(),
    sessionsTable: env[ENV.sessionsTable],
    eventsTable: env[ENV.eventsTable],
    chain: chainKey(env[ENV.chainKey]),
    network: taskNetwork(env),
    now: Date.now,
    log: logger,
  };
  return (event: unknown) => launchSession(deps, event);
});

/** Invoked asynchronously by the API, task-events and reaper functions only (no API route, no URL). */
export async function handler(event: unknown, context: Context): Promise<{ outcome: string }> {
  const logger = await functionLogger();
  logger.addContext(context);
  logger.appendKeys({ request_id: context.awsRequestId });
  try {
    // A malformed request is refused before the clients load (launchSession checks it again).
    const { LAUNCH_REQUEST } = await import('../launch-request.js');
    if (!LAUNCH_REQUEST.safeParse(event).success) {
      logger.warn('launch refused: malformed request');
      return { outcome: 'refused' };
    }
    const result = await (await ready())(event);
    return { outcome: result.outcome };
  } finally {
    logger.resetKeys();
  }
}
