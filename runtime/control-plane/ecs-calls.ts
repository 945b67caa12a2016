/**
 * The ECS calls of the control plane, in one place: RunTask for a pair, StopTask, and the reaper's
 * ListTasks/DescribeTasks. Throttling is retried with exponential backoff and full jitter (RunTask allows
 * about 20 calls/s per account) on top of the SDK's own retries, until the caller's deadline.
 */
import {
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { parseTaskFamily, STARTED_BY, taskFamily } from '../shared/names';
import type { TaskNetwork } from './env';

/** `group` of a session's task: the task state events carry it, so an event can name its session. */
export const TASK_GROUP_PREFIX = 'cubicle:';

export function taskGroup(sessionId: string): string {
  return `${TASK_GROUP_PREFIX}${sessionId}`;
}

export function sessionIdOfGroup(group: string | undefined): string | undefined {
  return group?.startsWith(TASK_GROUP_PREFIX) ? group.slice(TASK_GROUP_PREFIX.length) : undefined;
}

/** The pair whose task definition (ARN or family) this is; undefined for anything not one of this deployment's pairs. */
export function pairOfTaskDefinition(
  deployment: string,
  taskDefinitionArn: string | undefined,
): { userId: string; agentId: string } | undefined {
  const family = taskDefinitionArn?.match(/:task-definition\/([^:]+)(?::\d+)?$/)?.[1] ?? taskDefinitionArn;
  return family === undefined ? undefined : parseTaskFamily(deployment, family);
}

export class LaunchError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'LaunchError';
  }
}

export interface LaunchRequest {
  readonly userId: string;
  readonly agentId: string;
  readonly sessionId: string;
}

/**
 * Starts the pair's task; throws LaunchError with a reason fit for the session row. Never sends overrides:
 * the task runs exactly as its task definition says (the security-event rule raises any RunTask that does).
 */
export async function runPairTask(ecs: ECSClient, settings: TaskNetwork, req: LaunchRequest): Promise<string> {
  let out;
  try {
    out = await ecs.send(
      new RunTaskCommand({
        cluster: settings.clusterArn,
        taskDefinition: taskFamily(settings.deployment, req.userId, req.agentId),
        launchType: 'FARGATE',
        count: 1,
        // Idempotent for this session: a retried call returns the same task instead of a second one.
        clientToken: req.sessionId,
        startedBy: STARTED_BY,
        group: taskGroup(req.sessionId),
        networkConfiguration: {
          awsvpcConfiguration: {
            subnets: [...settings.subnetIds],
            securityGroups: [...settings.securityGroupIds],
            assignPublicIp: 'DISABLED',
          },
        },
        tags: [
          { key: 'user_id', value: req.userId },
          { key: 'agent_id', value: req.agentId },
          { key: 'session_id', value: req.sessionId },
        ],
      }),
    );
  } catch (error) {
    const name = (error as Error).name ?? 'Error';
    throw new LaunchError(`ECS refused to start the task (${name})`);
  }
  const failure = out?.failures?.[0];
  if (failure)
    throw new LaunchError(
      `ECS could not start the task: ${failure.reason ?? 'unknown reason'}${failure.detail ? ` (${failure.detail})` : ''}`,
    );
  const arn = out?.tasks?.[0]?.taskArn;
  if (!arn) throw new LaunchError('ECS returned no task');
  return arn;
}

export function isThrottling(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'ThrottlingException' || e?.name === 'Throttling' || e?.$metadata?.httpStatusCode === 429;
}

/** ECS answers InvalidParameterException "The referenced task was not found" for unknown or expired tasks. */
export function isTaskNotFound(error: unknown): boolean {
  const e = error as { name?: string; message?: string } | undefined;
  return (
    (e?.name === 'InvalidParameterException' || e?.name === 'ClientException') && /not found/i.test(e?.message ?? '')
  );
}

/** Stops a task; false when ECS no longer knows it (already gone). */
export async function stopTask(ecs: ECSClient, clusterArn: string, taskArn: string, reason: string): Promise<boolean> {
  try {
    await ecs.send(new StopTaskCommand({ cluster: clusterArn, task: taskArn, reason: reason.slice(0, 255) }));
    return true;
  } catch (error) {
    if (isTaskNotFound(error)) return false;
    throw error;
  }
}

/** Every task this deployment's control plane started that ECS still wants running. */
export async function listStartedTasks(ecs: ECSClient, clusterArn: string): Promise<{ arns: string[]; calls: number }> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  let calls = 0;
  do {
    const out = await ecs.send(
      new ListTasksCommand({
        cluster: clusterArn,
        startedBy: STARTED_BY,
        desiredStatus: 'RUNNING',
        maxResults: 100,
        nextToken,
      }),
    );
    calls += 1;
    arns.push(...(out.taskArns ?? []));
    nextToken = out.nextToken;
  } while (nextToken);
  return { arns, calls };
}

/** DescribeTasks in chunks of 100 (the API maximum); tasks ECS does not know are omitted. */
export async function describeTasks(
  ecs: ECSClient,
  clusterArn: string,
  arns: readonly string[],
): Promise<{ tasks: Task[]; calls: number }> {
  const tasks: Task[] = [];
  let calls = 0;
  for (let i = 0; i < arns.length; i += 100) {
    const out = await ecs.send(new DescribeTasksCommand({ cluster: clusterArn, tasks: arns.slice(i, i + 100) }));
    calls += 1;
    tasks.push(...(out.tasks ?? []));
  }
  return { tasks, calls };
}

export interface BackoffOptions {
  /** Epoch ms after which no new attempt starts. */
  readonly deadline: number;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly baseMs?: number;
  readonly capMs?: number;
  readonly onThrottle?: () => void;
}

/** Retries a throttled call with exponential backoff and full jitter; rethrows anything else. */
export async function withBackoff<T>(call: () => Promise<T>, options: BackoffOptions): Promise<T> {
  const base = options.baseMs ?? 200;
  const cap = options.capMs ?? 5_000;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      if (!isThrottling(error)) throw error;
      options.onThrottle?.();
      const wait = Math.random() * Math.min(cap, base * 2 ** attempt);
      if (options.now() + wait >= options.deadline) throw error;
      await options.sleep(wait);
    }
  }
}
