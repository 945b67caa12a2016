/**
 * The reaper, run every minute: reads the sparse active index shard by shard (Query, never Scan), lists
 * the tasks the control plane started, and decides — in a pure function, planReap — which sessions to
 * stop (past deadline, idle), fail (stuck starting), finalize (stop never confirmed, task gone) and which
 * tasks are orphans. Each action is a conditional write, so a heartbeat or a task event that lands
 * first wins, and is recorded as an event. Work is proportional to active sessions only.
 */
import type { Task } from '@aws-sdk/client-ecs';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { SessionStatus } from '../shared/rows';
import { ACTIVE_INDEX, pairKey, parsePairKey } from '../shared/tables';
import {
  describeTasks,
  isThrottling,
  listStartedTasks,
  pairOfTaskDefinition,
  sessionIdOfGroup,
  stopTask,
  withBackoff,
} from './ecs-calls';
import { expression } from '../shared/expressions';
import {
  appendLifecycleEvent,
  ensureAwake,
  type LifecycleDeps,
  type SessionRow,
  updateSession,
  WakeFailed,
} from './lifecycle';

/** A session still STARTING after this long is failed (Fargate starts in well under a minute). */
export const STARTING_TIMEOUT_MS = 10 * 60_000;
/** A stop not confirmed by a STOPPED event after this long is finalized (Fargate's stopTimeout is at most 120 s). */
export const STOPPING_TIMEOUT_MS = 5 * 60_000;
/** A task younger than this is never an orphan: its wake may not have recorded it yet. */
export const ORPHAN_GRACE_MS = 3 * 60_000;
/** A RUNNING session whose task ECS no longer lists is checked only after this long. */
export const LOST_GRACE_MS = 2 * 60_000;

export type ReapReason = 'deadline' | 'idle' | 'stuck-starting' | 'stop-unconfirmed' | 'task-gone';

export interface SessionAction {
  readonly kind: 'stop' | 'fail' | 'finalize';
  readonly reason: ReapReason;
  readonly row: SessionRow;
}

export interface ReapPlan {
  readonly actions: SessionAction[];
  /** RUNNING sessions whose task ECS does not list as running: DescribeTasks decides. */
  readonly lostCandidates: SessionRow[];
  /** Running tasks no active session claims: DescribeTasks decides (age, group). */
  readonly orphanCandidates: string[];
}

export interface ReapSettings {
  readonly idleTimeoutMs: number;
}

export function planReap(
  rows: readonly SessionRow[],
  runningTaskArns: readonly string[],
  now: number,
  settings: ReapSettings,
): ReapPlan {
  const actions: SessionAction[] = [];
  const lostCandidates: SessionRow[] = [];
  const running = new Set(runningTaskArns);
  const claimed = new Set<string>();
  for (const row of rows) {
    if (row.taskArn) claimed.add(row.taskArn);
    const status: SessionStatus = row.status;
    if (status === 'STARTING') {
      if (now - (row.startedAt ?? 0) >= STARTING_TIMEOUT_MS)
        actions.push({ kind: 'fail', reason: 'stuck-starting', row });
      else if (row.deadlineAt !== undefined && now >= row.deadlineAt)
        actions.push({ kind: 'stop', reason: 'deadline', row });
    } else if (status === 'RUNNING') {
      if (row.deadlineAt !== undefined && now >= row.deadlineAt)
        actions.push({ kind: 'stop', reason: 'deadline', row });
      else if (now - (row.lastActivityAt ?? row.startedAt ?? 0) >= settings.idleTimeoutMs)
        actions.push({ kind: 'stop', reason: 'idle', row });
      else if (row.taskArn && !running.has(row.taskArn) && now - (row.runningAt ?? 0) >= LOST_GRACE_MS)
        lostCandidates.push(row);
    } else if (status === 'STOPPING') {
      if (now - (row.stoppingAt ?? 0) >= STOPPING_TIMEOUT_MS)
        actions.push({ kind: 'finalize', reason: 'stop-unconfirmed', row });
    }
  }
  const orphanCandidates = runningTaskArns.filter((arn) => !claimed.has(arn));
  return { actions, lostCandidates, orphanCandidates };
}

export interface TickStats {
  active: number;
  stopped: number;
  failed: number;
  finalized: number;
  orphansStopped: number;
  throttled: number;
  /** Actions left for the next tick (deadline reached or an error); they are planned again. */
  deferred: number;
  errors: number;
}

export interface ReaperDeps extends LifecycleDeps {
  /** Epoch ms after which the tick starts no new work (the function's timeout minus a margin). */
  readonly deadline: number;
  readonly sleepMs: (ms: number) => Promise<void>;
  /** ECS calls in flight at once. */
  readonly concurrency?: number;
  readonly requestId: string;
}

/** Every active session, shard by shard. */
export async function queryActive(deps: Pick<LifecycleDeps, 'doc' | 'sessionsTable'>): Promise<SessionRow[]> {
  const shards = Array.from({ length: ACTIVE_INDEX.shards }, (_, i) => String(i));
  const pages = await Promise.all(
    shards.map(async (shard) => {
      const rows: SessionRow[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const out = await deps.doc.send(
          new QueryCommand({
            TableName: deps.sessionsTable,
            IndexName: ACTIVE_INDEX.name,
            ExclusiveStartKey: start,
            ...expression({ KeyConditionExpression: `#${ACTIVE_INDEX.partitionKey} = :shard` }, { shard }),
          }),
        );
        rows.push(...((out.Items ?? []) as SessionRow[]));
        start = out.LastEvaluatedKey;
      } while (start);
      return rows;
    }),
  );
  return pages.flat();
}

export async function reapTick(deps: ReaperDeps): Promise<TickStats> {
  const now = deps.now();
  const stats: TickStats = {
    active: 0,
    stopped: 0,
    failed: 0,
    finalized: 0,
    orphansStopped: 0,
    throttled: 0,
    deferred: 0,
    errors: 0,
  };
  const backoff = {
    deadline: deps.deadline,
    now: deps.now,
    sleep: deps.sleepMs,
    onThrottle: () => {
      stats.throttled += 1;
    },
  };
  const ecs = <T>(call: () => Promise<T>) => withBackoff(call, backoff);
  const cluster = deps.launch.clusterArn;

  const [rows, listed] = await Promise.all([queryActive(deps), ecs(() => listStartedTasks(deps.ecs, cluster))]);
  stats.active = rows.length;
  const plan = planReap(rows, listed.arns, now, { idleTimeoutMs: deps.launch.idleTimeoutMs });

  const jobs: Array<() => Promise<void>> = plan.actions.map((action) => () => applyAction(deps, action, stats, ecs));

  if (plan.lostCandidates.length > 0) {
    const { tasks } = await ecs(() =>
      describeTasks(
        deps.ecs,
        cluster,
        plan.lostCandidates.map((r) => r.taskArn as string),
      ),
    );
    const stillRunning = new Set(
      tasks.filter((t) => t.lastStatus !== 'STOPPED' && t.lastStatus !== 'DELETED').map((t) => t.taskArn),
    );
    for (const row of plan.lostCandidates) {
      if (!stillRunning.has(row.taskArn))
        jobs.push(() => applyAction(deps, { kind: 'finalize', reason: 'task-gone', row }, stats, ecs));
    }
  }

  if (plan.orphanCandidates.length > 0) {
    const sessionIds = new Set(rows.map((r) => r.sessionId));
    const { tasks } = await ecs(() => describeTasks(deps.ecs, cluster, plan.orphanCandidates));
    for (const task of tasks) {
      if (isOrphan(task, sessionIds, now)) jobs.push(() => stopOrphan(deps, task, stats, ecs));
    }
  }

  const guarded = jobs.map((job) => async () => {
    try {
      await job();
    } catch (error) {
      // Throttled past the deadline, or a transient failure: the next tick plans it again.
      if (isThrottling(error)) stats.deferred += 1;
      else {
        stats.errors += 1;
        deps.log.error('reaper action failed', { error: error as Error });
      }
    }
  });
  await runPool(
    guarded,
    deps.concurrency ?? 8,
    () => deps.now() < deps.deadline,
    (skipped) => {
      stats.deferred += skipped;
    },
  );
  deps.log.info('reaper tick', { ...stats });
  return stats;
}

function isOrphan(task: Task, activeSessionIds: ReadonlySet<string | undefined>, now: number): boolean {
  if (task.lastStatus === 'STOPPED' || task.desiredStatus === 'STOPPED') return false;
  const sid = sessionIdOfGroup(task.group);
  if (sid && activeSessionIds.has(sid)) return false; // its wake has not recorded the ARN yet
  const created = task.createdAt instanceof Date ? task.createdAt.getTime() : 0;
  return now - created >= ORPHAN_GRACE_MS;
}

const ACTION_STATUS: Record<SessionAction['kind'], string> = { stop: 'STOPPING', fail: 'FAILED', finalize: 'STOPPED' };

async function applyAction(
  deps: ReaperDeps,
  action: SessionAction,
  stats: TickStats,
  ecs: <T>(call: () => Promise<T>) => Promise<T>,
): Promise<void> {
  const { row, kind, reason } = action;
  const now = deps.now();
  const leaves = kind !== 'stop'; // fail/finalize take the session out of the active index
  // The condition pins what the plan saw: a heartbeat (lastActivityAt) or a task event since then wins.
  const pinActivity = reason === 'idle' && row.lastActivityAt !== undefined;
  const updated = await updateSession(
    deps,
    row.pk,
    {
      UpdateExpression:
        `SET #status = :to, #stopReason = :reason, #version = #version + :one, ${kind === 'stop' ? '#stoppingAt' : '#stoppedAt'} = :now` +
        (leaves ? ' REMOVE #activeShard, #wakePending' : ''),
      ConditionExpression:
        '#sessionId = :sid AND #status = :seen' + (pinActivity ? ' AND #lastActivityAt = :activity' : ''),
    },
    {
      to: ACTION_STATUS[kind],
      reason: REASON_TEXT[reason],
      one: 1,
      now,
      sid: row.sessionId,
      seen: row.status,
      ...(pinActivity ? { activity: row.lastActivityAt } : {}),
    },
  );
  if (!updated) return; // the session moved on by itself
  if (row.taskArn && reason !== 'task-gone') {
    await ecs(() =>
      stopTask(deps.ecs, deps.launch.clusterArn, row.taskArn as string, `Cubicle reaper: ${REASON_TEXT[reason]}`),
    );
  }
  if (kind === 'stop') stats.stopped += 1;
  else if (kind === 'fail') stats.failed += 1;
  else stats.finalized += 1;
  const pair = parsePairKey(row.pk);
  deps.log.info('reaper action', {
    user_id: pair.userId,
    agent_id: pair.agentId,
    session_id: row.sessionId,
    reason,
    status: ACTION_STATUS[kind],
  });
  await appendLifecycleEvent(deps, row.pk, 'lifecycle.reap', deps.requestId, {
    sessionId: row.sessionId,
    taskArn: row.taskArn,
    reason,
    status: ACTION_STATUS[kind],
  });
  if (kind === 'finalize' && row.wakePending) {
    await ensureAwake(deps, pair.userId, pair.agentId, row.wakePending).catch((error: unknown) => {
      if (!(error instanceof WakeFailed)) throw error;
    });
  }
}

async function stopOrphan(
  deps: ReaperDeps,
  task: Task,
  stats: TickStats,
  ecs: <T>(call: () => Promise<T>) => Promise<T>,
): Promise<void> {
  const arn = task.taskArn as string;
  await ecs(() => stopTask(deps.ecs, deps.launch.clusterArn, arn, 'Cubicle reaper: no active session owns this task'));
  stats.orphansStopped += 1;
  const pair = pairOfTaskDefinition(deps.launch.deployment, task.taskDefinitionArn);
  deps.log.info('reaper stopped an orphan task', { user_id: pair?.userId, agent_id: pair?.agentId, task_arn: arn });
  if (pair) {
    await appendLifecycleEvent(deps, pairKey(pair.userId, pair.agentId), 'lifecycle.orphan', deps.requestId, {
      taskArn: arn,
      sessionId: sessionIdOfGroup(task.group),
    });
  }
}

const REASON_TEXT: Record<ReapReason, string> = {
  deadline: 'reached its maximum duration',
  idle: 'idle beyond the idle timeout',
  'stuck-starting': 'did not start within 10 minutes',
  'stop-unconfirmed': 'stop was not confirmed within 5 minutes',
  'task-gone': 'its task is no longer running',
};

/** Runs jobs with bounded concurrency; stops starting new ones when `proceed` turns false. */
async function runPool(
  jobs: ReadonlyArray<() => Promise<void>>,
  concurrency: number,
  proceed: () => boolean,
  onSkipped: (count: number) => void,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      if (!proceed()) {
        onSkipped(jobs.length - next);
        next = jobs.length;
        return;
      }
      const job = jobs[next++];
      await job();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
}
