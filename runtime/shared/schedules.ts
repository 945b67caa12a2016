/**
 * Scheduled runs: the one format of a schedule's id and of the policy a scheduled message carries,
 * shared by the config (synth), the scheduled-run function that stores the message, and the agent
 * runtime that applies the policy. No AWS and no zod here, so every side can import it.
 */
import { ID_MAX_LENGTH, ID_PATTERN } from './ids';

/**
 * What the invoke role (and EventBridge Scheduler) send: `{ "scheduleId": "<user>/<agent>/<schedule>" }`.
 * "/" cannot occur in an id, so the three parts are recovered exactly.
 */
export function scheduleKey(userId: string, agentId: string, scheduleId: string): string {
  return `${userId}/${agentId}/${scheduleId}`;
}

export const SCHEDULE_KEY_MAX_LENGTH = 3 * ID_MAX_LENGTH + 2;

export function parseScheduleKey(key: string): { userId: string; agentId: string; scheduleId: string } | undefined {
  if (key.length > SCHEDULE_KEY_MAX_LENGTH) return undefined;
  const parts = key.split('/');
  if (parts.length !== 3 || !parts.every((p) => p.length <= ID_MAX_LENGTH && ID_PATTERN.test(p))) return undefined;
  const [userId, agentId, scheduleId] = parts;
  return { userId, agentId, scheduleId };
}

/**
 * What an unattended run may do outside the task: `deny` (the default: every outbound call is refused),
 * or the hosts it may reach without asking anyone. A scheduled run never waits for an approval.
 */
export type ScheduledOutbound = 'deny' | readonly string[];

/** Default run cap of a scheduled message when its schedule names none. */
export const DEFAULT_SCHEDULED_RUN_MINUTES = 30;

/**
 * The policy a scheduled message carries on its inbox row (`schedule`), written by the control plane
 * only; the agent's tool guard applies it instead of the agent's own outbound policy for that message.
 */
export interface ScheduledMessagePolicy {
  /** `<user>/<agent>/<schedule>`. */
  readonly key: string;
  readonly outbound: ScheduledOutbound;
  /** The CLI run of this message is stopped after this long. */
  readonly maxRunMs: number;
}

/** A schedule as the scheduled-run function knows it (bundled in roster.json, from the config). */
export interface DeclaredSchedule {
  readonly id: string;
  readonly text: string;
  readonly outbound: ScheduledOutbound;
  readonly maxRunMinutes: number;
}
