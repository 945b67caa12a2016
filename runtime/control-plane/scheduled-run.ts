/**
 * Scheduled runs: EventBridge Scheduler (or the pipeline's invoke role) invokes the scheduled-run function
 * with `{ "scheduleId": "<user>/<agent>/<schedule>" }`, nothing else. The function looks the schedule up
 * among those the config declares (bundled roster.json), posts the schedule's own text to that agent's
 * inbox as a scheduled message (sealed under the user's key, with the schedule's outbound policy and run
 * cap), and wakes the agent through the same lifecycle path as POST /messages. An undeclared id, a
 * malformed one, any other field or any free text is refused: the caller chooses which declared schedule
 * runs, never what the agent is told.
 */
import { appendLifecycleEvent, ensureAwake, WakeFailed, type LifecycleDeps, type Log } from './lifecycle';
import { fingerprintOf, platformKey, runIdempotent } from './idempotency';
import { json } from './http';
import { putMessage, type RecordDeps } from './records';
import { agentOf, type Roster } from './roster';
import { budgetRefusal } from './budget-gate';
import type { UsageLedger } from '../shared/budget';
import { newSortableId } from '../shared/rows';
import { parseScheduleKey, scheduleKey, type ScheduledMessagePolicy } from '../shared/schedules';
import { pairKey } from '../shared/tables';

export interface ScheduledRunDeps {
  readonly roster: Roster;
  readonly records: RecordDeps;
  readonly lifecycle: LifecycleDeps;
  readonly log: Log;
  /** This month's usage counters; absent, only the kill switches of the roster are enforced. */
  readonly usage?: UsageLedger;
}

/** The invocation is not `{ scheduleId }` of a declared schedule; nothing was stored. */
export class ScheduleRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleRefused';
  }
}

export const SCHEDULED_RUN_INPUT =
  'the scheduled-run function accepts only {"scheduleId": "<user>/<agent>/<schedule>"} naming a schedule declared in the config, and the time it was due ("scheduledTime", set by EventBridge Scheduler)';

/**
 * EventBridge Scheduler's `<aws.scheduler.scheduled-time>` (e.g. `2026-11-30T07:00:00Z`): the same for every
 * delivery of one firing, so it names the firing (Scheduler delivers at least once).
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html
 */
const SCHEDULED_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

export interface ScheduledRunResult {
  readonly scheduleId: string;
  /** Absent when the run was skipped. */
  readonly messageId?: string;
  /**
   * `started`, `active` or `pending` (lifecycle.ts), `wake-failed`: the message waits for the next wake, or
   * `skipped`: refused by the budget gate (`reason`: budget_exhausted or stopped), nothing stored.
   */
  readonly outcome: string;
  readonly reason?: string;
}

/** Only `{ scheduleId: string }`: the key of a schedule of the config. */
export function declaredSchedule(roster: Roster, event: unknown) {
  if (typeof event !== 'object' || event === null || Array.isArray(event))
    throw new ScheduleRefused(`${SCHEDULED_RUN_INPUT}; got ${describe(event)}`);
  const fields = Object.keys(event);
  if (!fields.includes('scheduleId') || fields.some((f) => f !== 'scheduleId' && f !== 'scheduledTime')) {
    throw new ScheduleRefused(
      `${SCHEDULED_RUN_INPUT}; got the field(s) ${fields.map((f) => JSON.stringify(f.slice(0, 40))).join(', ') || 'none'}`,
    );
  }
  const time = (event as { scheduledTime?: unknown }).scheduledTime;
  if (
    time !== undefined &&
    !(typeof time === 'string' && SCHEDULED_TIME.test(time) && !Number.isNaN(Date.parse(time)))
  ) {
    throw new ScheduleRefused(`${SCHEDULED_RUN_INPUT}; scheduledTime is not a UTC time such as 2026-11-30T07:00:00Z`);
  }
  const key = (event as { scheduleId: unknown }).scheduleId;
  if (typeof key !== 'string') throw new ScheduleRefused(`${SCHEDULED_RUN_INPUT}; scheduleId is ${describe(key)}`);
  const parts = parseScheduleKey(key);
  const user = parts && roster.user(parts.userId);
  const agent = parts && user && agentOf(user, parts.agentId);
  const schedule = parts && agent?.schedules?.find((s) => s.id === parts.scheduleId);
  if (!parts || !user || !agent || !schedule) {
    // The refused value is echoed only when it has the shape of a key (never free text).
    throw new ScheduleRefused(
      `${SCHEDULED_RUN_INPUT}; ${parts ? `"${key}" is not declared` : 'scheduleId is not of that form'}`,
    );
  }
  return {
    userId: user.id,
    agentId: agent.id,
    agent,
    schedule,
    ...(typeof time === 'string' ? { scheduledTime: time } : {}),
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'string' ? 'a string' : `a ${typeof value}`;
}

/**
 * Posts the schedule's message and wakes the agent, once per firing: a second delivery of the same firing
 * (same `scheduledTime`: Scheduler delivers at least once) or a retried invocation (same request id, e.g.
 * Lambda's async retry) stores nothing more (the Idempotency table, as POST /messages). An invocation
 * without `scheduledTime` (the pipeline's invoke role running a schedule by hand) is one run per request.
 */
export async function runSchedule(
  deps: ScheduledRunDeps,
  event: unknown,
  requestId: string,
): Promise<ScheduledRunResult> {
  const { userId, agentId, agent, schedule, scheduledTime } = declaredSchedule(deps.roster, event);
  const key = scheduleKey(userId, agentId, schedule.id);
  // At 100 % or with a kill switch on, the firing is skipped: nothing stored, nothing woken, and the invocation
  // succeeds. Throwing would make Scheduler retry a run that cannot succeed this month, then dead-letter it,
  // which would page for a budget working as configured. One log line says why (no text of the message).
  const refused = await budgetRefusal(deps.usage, userId, agent, deps.records.now());
  if (refused) {
    deps.log.info('scheduled run skipped', {
      schedule_id: key,
      reason: refused.body.error,
      scope: refused.body.scope,
      ...(scheduledTime ? { scheduled_time: scheduledTime } : {}),
    });
    return { scheduleId: key, outcome: 'skipped', reason: refused.body.error };
  }
  const pk = pairKey(userId, agentId);
  const policy: ScheduledMessagePolicy = {
    key,
    outbound: schedule.outbound,
    maxRunMs: schedule.maxRunMinutes * 60_000,
  };
  const answer = await runIdempotent(
    { doc: deps.records.doc, idempotencyTable: deps.records.idempotencyTable, now: deps.records.now },
    pk,
    // Never a client's key (platformKey), so POST /messages cannot pre-claim a firing.
    scheduledTime
      ? platformKey('scheduled', schedule.id, scheduledTime)
      : platformKey('scheduled', 'request', requestId.replace(/[^A-Za-z0-9_.:-]/g, '').slice(0, 100)),
    fingerprintOf('scheduled-run', key),
    () => newSortableId(deps.records.now()),
    async (claimed) => {
      const messageId = await putMessage(deps.records, pk, schedule.text, requestId, {
        messageId: claimed,
        schedule: policy,
      });
      await appendLifecycleEvent(deps.lifecycle, pk, 'schedule.posted', requestId, { scheduleId: key, messageId });
      let outcome: string;
      try {
        outcome = (await ensureAwake(deps.lifecycle, userId, agentId, requestId)).outcome;
      } catch (error) {
        if (!(error instanceof WakeFailed)) throw error;
        // Stored either way: the message runs on the next successful wake.
        deps.log.warn('scheduled run could not wake the agent', { schedule_id: key, reason: error.reason });
        outcome = 'wake-failed';
      }
      return json(202, { scheduleId: key, messageId, outcome });
    },
  );
  return JSON.parse(String(answer.body)) as ScheduledRunResult;
}
