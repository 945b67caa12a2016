import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { ENV, LAUNCHER_ENV, parseEnv, taskNetwork } from '../env';
import { lazy } from './lazy';

const logger = new Logger();
const env = parseEnv(LAUNCHER_ENV);

const ready = lazy(async () => {
  const [{ documentClient }, { ecsClient }, { launchSession }, { chainKey }] = await Promise.all([
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
  logger.addContext(context);
  logger.appendKeys({ request_id: context.awsRequestId });
  try {
    const result = await (await ready())(event);
    return { outcome: result.outcome };
  } finally {
    logger.resetKeys();
  }
}
