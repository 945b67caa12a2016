import { randomUUID } from 'node:crypto';
import { ENV, launchSettings, LIFECYCLE_ENV, type EnvOf } from '../env';
import type { LifecycleDeps, Log } from '../lifecycle';

/**
 * What every function that wakes or stops agents needs (API, task events, reaper), wired once: tasks start
 * only through the launcher function, which they invoke. The SDK
 * clients load on first use, so a cold start that ends early (bad origin header) never pays for them.
 */
export async function loadLifecycleDeps(env: EnvOf<typeof LIFECYCLE_ENV>, log: Log): Promise<LifecycleDeps> {
  const [{ documentClient }, { ecsClient }, { lambdaLauncher }, { chainKey }] = await Promise.all([
    import('../aws/dynamo.js'),
    import('../aws/ecs.js'),
    import('../aws/launcher-invoker.js'),
    import('../aws/kms.js'),
  ]);
  return {
    doc: documentClient(),
    ecs: ecsClient(),
    sessionsTable: env[ENV.sessionsTable],
    eventsTable: env[ENV.eventsTable],
    chain: chainKey(env[ENV.chainKey]),
    launch: launchSettings(env),
    launcher: lambdaLauncher(env[ENV.launcherFunction]),
    now: Date.now,
    newSessionId: randomUUID,
    log,
  };
}
