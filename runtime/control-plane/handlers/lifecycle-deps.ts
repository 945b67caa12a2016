import { randomUUID } from 'node:crypto';
import { ENV, launchSettings, LIFECYCLE_ENV, type EnvOf } from '../env';
import type { LifecycleDeps, Log } from '../lifecycle';
import { deferredChainKey } from './chain-key';
import { deferred } from './lazy';

/**
 * What every function that wakes or stops agents needs (API, task events, reaper, scheduled runs), wired once:
 * tasks start only through the launcher function, which they invoke. The SDK clients load on first use, so a cold
 * start that ends early (bad origin header) never pays for them; the launcher and the chain key load on their first
 * call, so a reaper tick or a task event does not load the Lambda and KMS clients before its first request.
 */
export async function loadLifecycleDeps(env: EnvOf<typeof LIFECYCLE_ENV>, log: Log): Promise<LifecycleDeps> {
  const [{ documentClient }, { ecsClient }] = await Promise.all([import('../aws/dynamo.js'), import('../aws/ecs.js')]);
  return {
    doc: documentClient(),
    ecs: ecsClient(),
    sessionsTable: env[ENV.sessionsTable],
    eventsTable: env[ENV.eventsTable],
    chain: deferredChainKey(env[ENV.chainKey]),
    launch: launchSettings(env),
    launcher: deferred(
      async () => (await import('../aws/launcher-invoker.js')).lambdaLauncher(env[ENV.launcherFunction]),
      ['launch'],
    ),
    now: Date.now,
    newSessionId: randomUUID,
    log,
  };
}
