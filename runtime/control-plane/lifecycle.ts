/**
 * Session lifecycle over the Sessions row of a pair: wake, sleep, and the ECS task state events.
 *
 * Every transition is one conditional UpdateItem, so racing callers (100 concurrent wakes, a wake
 * during a stop, events out of order) resolve in DynamoDB: exactly one caller wins each transition,
 * the others observe the winner's state (task state events: task-events.ts). Wake never PutItems over the row (the runtime's inboxCursor
 * lives on it). A wake costs 2 DynamoDB calls and 1 RunTask; its audit record is the lifecycle event
 * appended when the task reports RUNNING (or the failure event when it cannot start).
 */
import type { ECSClient } from '@aws-sdk/client-ecs';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { ChainKey } from '../shared/event-chain';
import { EventLog } from '../shared/event-log';
import { SESSION_STATUS, type ControlPlaneEventType, type ControlPlaneSessionRow } from '../shared/rows';
import { activeShardOf, pairKey, parsePairKey } from '../shared/tables';
import type { LaunchSettings } from './env';
import { stopTask } from './ecs-calls';
import type { Launcher } from './launcher';
import { expression, isConditionFailure } from '../shared/expressions';

export type Log = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface LifecycleDeps {
  readonly doc: DynamoDBDocumentClient;
  readonly ecs: ECSClient;
  readonly sessionsTable: string;
  readonly eventsTable: string;
  /** MACs appended events under the chain key (runtime/shared/event-chain.ts). */
  readonly chain: Pick<ChainKey, 'mac'>;
  readonly launch: LaunchSettings;
  /** Starts a claimed session's task (runtime/control-plane/launcher.ts); the only way a task starts. */
  readonly launcher: Launcher;
  readonly now: () => number;
  readonly newSessionId: () => string;
  readonly log: Log;
}

export type SessionRow = ControlPlaneSessionRow;

export type WakeOutcome =
  /** A new session was claimed and its task started. */
  | 'started'
  /** The agent was already starting or running (its activity clock was refreshed). */
  | 'active'
  /** The agent is stopping; it starts again as soon as its task has stopped. */
  | 'pending';

export interface WakeResult {
  readonly outcome: WakeOutcome;
  readonly session: SessionRow;
}

/** RunTask failed: the session is FAILED with `reason`; the API answers 503. */
export class WakeFailed extends Error {
  constructor(
    readonly session: SessionRow,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'WakeFailed';
  }
}

/** Conditional UpdateItem on a Sessions row; undefined when the condition does not hold. */
export async function updateSession(
  deps: Pick<LifecycleDeps, 'doc' | 'sessionsTable'>,
  pk: string,
  parts: { UpdateExpression: string; ConditionExpression: string },
  values: Record<string, unknown>,
  returnValues: 'ALL_NEW' | 'ALL_OLD' = 'ALL_NEW',
): Promise<SessionRow | undefined> {
  try {
    const out = await deps.doc.send(
      new UpdateCommand({
        TableName: deps.sessionsTable,
        Key: { pk },
        ReturnValues: returnValues,
        ...expression(parts, values),
      }),
    );
    return (out.Attributes ?? {}) as SessionRow;
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}

export async function getSession(
  deps: Pick<LifecycleDeps, 'doc' | 'sessionsTable'>,
  pk: string,
): Promise<SessionRow | undefined> {
  const out = await deps.doc.send(new GetCommand({ TableName: deps.sessionsTable, Key: { pk }, ConsistentRead: true }));
  return out.Item as SessionRow | undefined;
}

export async function appendLifecycleEvent(
  deps: Pick<LifecycleDeps, 'doc' | 'eventsTable' | 'chain' | 'now'>,
  pk: string,
  type: ControlPlaneEventType,
  requestId: string,
  data: Record<string, unknown>,
): Promise<void> {
  const clean = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined));
  await new EventLog(deps.doc, deps.eventsTable, pk, deps.chain, deps.now).append({ type, requestId, data: clean });
}

/**
 * Wakes the pair unless it is awake: claims a new session (STOPPED/FAILED/absent → STARTING), or
 * refreshes the activity clock of a starting/running one, or marks a stopping one to restart.
 */
export async function ensureAwake(
  deps: LifecycleDeps,
  userId: string,
  agentId: string,
  requestId: string,
): Promise<WakeResult> {
  const pk = pairKey(userId, agentId);
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const claimed = await claimSession(deps, pk, requestId);
    if (claimed) return { outcome: 'started', session: await launchClaimed(deps, pk, claimed) };

    const now = deps.now();
    const active = await updateSession(
      deps,
      pk,
      {
        UpdateExpression: 'SET #lastActivityAt = :now, #version = #version + :one',
        ConditionExpression: '#status IN (:starting, :running)',
      },
      { now, one: 1, starting: SESSION_STATUS.STARTING, running: SESSION_STATUS.RUNNING },
    );
    if (active) return { outcome: 'active', session: active };

    const pending = await updateSession(
      deps,
      pk,
      {
        UpdateExpression: 'SET #wakePending = :rid, #version = #version + :one',
        ConditionExpression: '#status = :stopping',
      },
      { rid: requestId, one: 1, stopping: SESSION_STATUS.STOPPING },
    );
    if (pending) return { outcome: 'pending', session: pending };
    // The row changed between our conditions (e.g. STOPPING → STOPPED): try again from the top.
  }
  throw new Error(`session ${pk} kept changing state during wake`);
}

async function claimSession(deps: LifecycleDeps, pk: string, requestId: string): Promise<SessionRow | undefined> {
  const now = deps.now();
  return updateSession(
    deps,
    pk,
    {
      UpdateExpression:
        'SET #status = :starting, #sessionId = :sid, #requestId = :rid, #startedAt = :now, #deadlineAt = :deadline, ' +
        '#lastActivityAt = :now, #activeShard = :shard, #version = if_not_exists(#version, :zero) + :one ' +
        'REMOVE #taskArn, #stopReason, #stopCode, #exitCode, #wakePending, #runningAt, #stoppingAt, #stoppedAt, ' +
        // The new task's relay nonce is made when it claims it (runtime/relay/runtime-auth.ts), sealed there.
        '#relayClaimedAt, #relayTask, #relayNonce',
      ConditionExpression: 'attribute_not_exists(#pk) OR #status IN (:stopped, :failed)',
    },
    {
      starting: SESSION_STATUS.STARTING,
      sid: deps.newSessionId(),
      rid: requestId,
      now,
      deadline: now + deps.launch.maxTaskDurationMs,
      shard: activeShardOf(pk),
      zero: 0,
      one: 1,
      stopped: SESSION_STATUS.STOPPED,
      failed: SESSION_STATUS.FAILED,
    },
  );
}

/**
 * Hands the claimed session to the launcher. A launcher that cannot be reached fails the session here; one
 * that reports a failed launch (in-process) fails the wake. The Lambda launcher reports nothing: its
 * failure shows in the session's status.
 */
async function launchClaimed(deps: LifecycleDeps, pk: string, claimed: SessionRow): Promise<SessionRow> {
  const { userId, agentId } = parsePairKey(pk);
  const sessionId = claimed.sessionId as string;
  let launched: SessionRow | undefined;
  try {
    launched = await deps.launcher.launch({ userId, agentId, sessionId });
  } catch (error) {
    const reason = 'the launcher could not be reached';
    deps.log.error('wake failed', { session_id: sessionId, error: error as Error });
    const failed = await failSession(deps, pk, claimed, reason);
    throw new WakeFailed(failed ?? { ...claimed, status: SESSION_STATUS.FAILED, stopReason: reason }, reason);
  }
  if (launched?.sessionId === sessionId && launched.status === SESSION_STATUS.FAILED) {
    throw new WakeFailed(launched, launched.stopReason ?? 'the task could not be started');
  }
  return launched ?? claimed;
}

/** A claimed session that could not start: FAILED with the reason, and the failure on the pair's chain. */
export async function failSession(
  deps: Pick<LifecycleDeps, 'doc' | 'sessionsTable' | 'eventsTable' | 'chain' | 'now'>,
  pk: string,
  claimed: SessionRow,
  reason: string,
): Promise<SessionRow | undefined> {
  const failed = await updateSession(
    deps,
    pk,
    {
      UpdateExpression:
        'SET #status = :failed, #stopReason = :reason, #stoppedAt = :now, #version = #version + :one REMOVE #activeShard, #wakePending',
      ConditionExpression: '#sessionId = :sid AND #status IN (:starting, :stopping)',
    },
    {
      failed: SESSION_STATUS.FAILED,
      reason,
      now: deps.now(),
      one: 1,
      sid: claimed.sessionId,
      starting: SESSION_STATUS.STARTING,
      stopping: SESSION_STATUS.STOPPING,
    },
  );
  await appendLifecycleEvent(deps, pk, 'lifecycle.failed', claimed.requestId ?? 'unknown', {
    sessionId: claimed.sessionId,
    reason,
  });
  return failed;
}

export type SleepOutcome = 'stopping' | 'asleep';

/** Stops the pair's task (STARTING/RUNNING → STOPPING) and cancels a pending wake. */
export async function sleep(
  deps: LifecycleDeps,
  userId: string,
  agentId: string,
  requestId: string,
): Promise<{ outcome: SleepOutcome; session?: SessionRow }> {
  const pk = pairKey(userId, agentId);
  const now = deps.now();
  const stopping = await updateSession(
    deps,
    pk,
    {
      UpdateExpression:
        'SET #status = :stopping, #stoppingAt = :now, #stopReason = :reason, #version = #version + :one REMOVE #wakePending',
      ConditionExpression: '#status IN (:starting, :running)',
    },
    {
      stopping: SESSION_STATUS.STOPPING,
      now,
      reason: 'put to sleep by the employee',
      one: 1,
      starting: SESSION_STATUS.STARTING,
      running: SESSION_STATUS.RUNNING,
    },
  );
  if (stopping) {
    if (stopping.taskArn) await stopOrFinalize(deps, pk, stopping, 'Cubicle: put to sleep by the employee');
    await appendLifecycleEvent(deps, pk, 'lifecycle.sleep', requestId, {
      sessionId: stopping.sessionId,
      taskArn: stopping.taskArn,
    });
    return { outcome: 'stopping', session: stopping };
  }
  const cancelled = await updateSession(
    deps,
    pk,
    {
      UpdateExpression: 'SET #version = #version + :one REMOVE #wakePending',
      ConditionExpression: '#status = :stopping',
    },
    { one: 1, stopping: SESSION_STATUS.STOPPING },
  );
  if (cancelled) return { outcome: 'stopping', session: cancelled };
  return { outcome: 'asleep', session: await getSession(deps, pk) };
}

/** StopTask; if ECS no longer knows the task, the STOPPED event will never come, so finalize here. */
export async function stopOrFinalize(deps: LifecycleDeps, pk: string, row: SessionRow, reason: string): Promise<void> {
  const known = await stopTask(deps.ecs, deps.launch.clusterArn, row.taskArn as string, reason);
  if (!known) {
    await updateSession(
      deps,
      pk,
      {
        UpdateExpression:
          'SET #status = :stopped, #stoppedAt = :now, #version = #version + :one REMOVE #activeShard, #wakePending',
        ConditionExpression: '#sessionId = :sid AND #status = :stopping',
      },
      {
        stopped: SESSION_STATUS.STOPPED,
        now: deps.now(),
        one: 1,
        sid: row.sessionId,
        stopping: SESSION_STATUS.STOPPING,
      },
    );
  }
}
