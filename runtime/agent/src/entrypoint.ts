/**
 * The container's main process. Wires the Secrets Manager client (whose credentials, the task role's,
 * also sign the relay connection), stdout logging and ECS's SIGTERM to the
 * supervisor, and exits with its code.
 */
import { performance } from 'node:perf_hooks';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readTaskArn } from './ecs-metadata';
import { loadSts } from './lazy-bundle';
import type { AssumeModelRole } from './model-credentials';
import { startAgent, type AgentDeps } from './supervisor';

let sts: import('@aws-sdk/client-sts').STSClient | undefined;
/** Loaded on first use: only Bedrock agents call STS, and the others should not pay for parsing it at start. */
const assumeModelRole: AssumeModelRole = async ({ roleArn, sessionName, durationSeconds }) => {
  const { AssumeRoleCommand, STSClient } = await loadSts();
  sts ??= new STSClient({ maxAttempts: 5 });
  return sts.send(
    new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName, DurationSeconds: durationSeconds }),
  );
};

/** `options`: what a test harness may replace (the image runs main() without any). */
export async function main(options: Pick<AgentDeps, 'loadInboxOpener'> = {}): Promise<void> {
  const startedAt = Math.floor(performance.timeOrigin);
  let stop: ((reason: 'sigterm') => void) | undefined;
  let stopRequested = false;
  // ECS stops a task with SIGTERM, then SIGKILL after the container's stopTimeout.
  process.on('SIGTERM', () => {
    stopRequested = true;
    stop?.('sigterm');
  });
  process.on('SIGINT', () => {
    stopRequested = true;
    stop?.('sigterm');
  });

  const agent = startAgent({
    env: process.env,
    secrets: new SecretsManagerClient({ maxAttempts: 5 }),
    write: (line) => process.stdout.write(line),
    startedAt,
    // Read while the supervisor starts, not before: it is only needed for the session.started event.
    taskArn: readTaskArn(process.env),
    ...(process.env.CUBICLE_PROVIDER === 'bedrock' ? { assumeModelRole } : {}),
    ...options,
  });
  stop = (reason) => agent.stop(reason);
  if (stopRequested) agent.stop('sigterm');
  const code = await agent.done;
  // Let stdout drain before exiting.
  process.stdout.write('', () => process.exit(code));
}

if (require.main === module) void main();
