/**
 * ECS task state changes (the EventBridge rule): validates the event's shape, tags the log lines with
 * the pair, and moves the pair's session row forward. Malformed or foreign events are logged and
 * dropped (a retry cannot fix them).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import * as z from 'zod/mini';
import { STARTED_BY } from '../shared/names';
import { SESSION_STATUS } from '../shared/rows';
import { pairKey } from '../shared/tables';
import { pairOfTaskDefinition, sessionIdOfGroup } from './ecs-calls';
import { appendLifecycleEvent, ensureAwake, updateSession, WakeFailed, type LifecycleDeps } from './lifecycle';

const DETAIL = z.object({
  taskArn: z.string(),
  clusterArn: z.string(),
  lastStatus: z.string(),
  taskDefinitionArn: z.optional(z.string()),
  group: z.optional(z.string()),
  startedBy: z.optional(z.string()),
  stopCode: z.optional(z.string()),
  stoppedReason: z.optional(z.string()),
  containers: z.optional(z.array(z.object({ name: z.optional(z.string()), exitCode: z.optional(z.number()) }))),
});

export interface TaskStateEvent {
  readonly id?: string;
  readonly 'detail-type'?: string;
  readonly detail?: unknown;
}

export function createTaskEventHandler(
  deps: LifecycleDeps,
  logger: Logger,
): (event: TaskStateEvent) => Promise<TaskEventOutcome> {
  return async (event) => {
    logger.appendKeys({ request_id: event.id ?? 'unknown' });
    try {
      const parsed = DETAIL.safeParse(event.detail);
      if (!parsed.success) {
        logger.warn('ignored a malformed task state event');
        return 'ignored';
      }
      const pair = pairOfTaskDefinition(deps.launch.deployment, parsed.data.taskDefinitionArn);
      if (pair) logger.appendKeys({ user_id: pair.userId, agent_id: pair.agentId });
      const outcome = await applyTaskEvent(deps, parsed.data);
      logger.info('task state event', { last_status: parsed.data.lastStatus, task_arn: parsed.data.taskArn, outcome });
      return outcome;
    } finally {
      logger.resetKeys();
    }
  };
}

/** The part of an "ECS Task State Change" event's detail the control plane reads. */
export interface TaskStateDetail {
  readonly taskArn: string;
  readonly clusterArn: string;
  readonly lastStatus: string;
  readonly taskDefinitionArn?: string;
  readonly group?: string;
  readonly startedBy?: string;
  readonly stopCode?: string;
  readonly stoppedReason?: string;
  readonly containers?: ReadonlyArray<{ readonly name?: string; readonly exitCode?: number }>;
}

export type TaskEventOutcome = 'running' | 'stopped' | 'failed' | 'ignored';

/**
 * Applies a task state change to its session. An event counts only if its task is the session's task
 * (same ARN, or — before the wake recorded the ARN — the same session id in the task's group) and the
 * transition is forward: stale, duplicate, out-of-order and foreign events change nothing.
 */
export async function applyTaskEvent(deps: LifecycleDeps, detail: TaskStateDetail): Promise<TaskEventOutcome> {
  if (detail.clusterArn !== deps.launch.clusterArn || detail.startedBy !== STARTED_BY) return 'ignored';
  const pair = pairOfTaskDefinition(deps.launch.deployment, detail.taskDefinitionArn);
  if (!pair) return 'ignored';
  const pk = pairKey(pair.userId, pair.agentId);
  // An unknown session id never matches a real one.
  const sid = sessionIdOfGroup(detail.group) ?? '-';
  const ours = '(#taskArn = :arn OR (attribute_not_exists(#taskArn) AND #sessionId = :sid))';
  const now = deps.now();

  if (detail.lastStatus === 'RUNNING') {
    const row = await updateSession(
      deps,
      pk,
      {
        UpdateExpression:
          'SET #status = :running, #runningAt = :now, #lastActivityAt = :now, #taskArn = :arn, #version = #version + :one',
        ConditionExpression: `#status = :starting AND ${ours}`,
      },
      { running: SESSION_STATUS.RUNNING, now, arn: detail.taskArn, one: 1, starting: SESSION_STATUS.STARTING, sid },
    );
    if (!row) return 'ignored';
    await appendLifecycleEvent(deps, pk, 'lifecycle.running', row.requestId ?? 'unknown', {
      sessionId: row.sessionId,
      taskArn: detail.taskArn,
    });
    return 'running';
  }

  if (detail.lastStatus !== 'STOPPED') return 'ignored';
  const failedToStart = detail.stopCode === 'TaskFailedToStart';
  const exitCode = detail.containers?.find((c) => typeof c.exitCode === 'number')?.exitCode;
  const ecsReason = (detail.stoppedReason ?? detail.stopCode ?? 'stopped').slice(0, 500);
  const old = await updateSession(
    deps,
    pk,
    {
      UpdateExpression:
        'SET #status = :final, #stoppedAt = :now, #taskArn = :arn, #stopCode = :code, #stopReason = if_not_exists(#stopReason, :reason), ' +
        (exitCode !== undefined ? '#exitCode = :exit, ' : '') +
        '#version = #version + :one REMOVE #activeShard, #wakePending',
      ConditionExpression: `#status IN (:starting, :running, :stopping) AND ${ours}`,
    },
    {
      final: failedToStart ? SESSION_STATUS.FAILED : SESSION_STATUS.STOPPED,
      now,
      arn: detail.taskArn,
      code: detail.stopCode ?? 'unknown',
      reason: ecsReason,
      ...(exitCode !== undefined ? { exit: exitCode } : {}),
      one: 1,
      starting: SESSION_STATUS.STARTING,
      running: SESSION_STATUS.RUNNING,
      stopping: SESSION_STATUS.STOPPING,
      sid,
    },
    'ALL_OLD',
  );
  if (!old) return 'ignored';
  await appendLifecycleEvent(
    deps,
    pk,
    failedToStart ? 'lifecycle.failed' : 'lifecycle.stopped',
    old.requestId ?? 'unknown',
    {
      sessionId: old.sessionId,
      taskArn: detail.taskArn,
      stopCode: detail.stopCode,
      exitCode,
      reason: old.stopReason ?? ecsReason,
    },
  );
  if (old.wakePending) {
    // A wake (or a message) arrived while the task was stopping: start the next session now.
    try {
      await ensureAwake(deps, pair.userId, pair.agentId, old.wakePending);
    } catch (error) {
      if (!(error instanceof WakeFailed)) throw error;
    }
  }
  return failedToStart ? 'failed' : 'stopped';
}
