/**
 * Row shapes of the control-plane tables (keys in `tables.ts`), shared by the agent runtime and the
 * control plane so both read and write the same attributes. Every row carries `pk` = pairKey(user, agent).
 * Timestamps are epoch milliseconds (numbers) so conditions can compare them.
 */
import { randomBytes } from 'node:crypto';
import type { ScheduledMessagePolicy } from './schedules';
import type { SessionStatus } from './session-status';

export { SESSION_STATUS, type SessionStatus } from './session-status';

// ---------------------------------------------------------------------------------------------
// Sortable ids (Inbox sk, Approvals sk): 13-digit zero-padded epoch ms, "-", 16 hex characters.
// Lexicographic order is time order, so the runtime can query `sk > cursor`.
// ---------------------------------------------------------------------------------------------

export const SORTABLE_ID_PATTERN = /^\d{13}-[0-9a-f]{16}$/;

export function newSortableId(nowMs: number = Date.now(), random: Buffer = randomBytes(8)): string {
  if (!Number.isInteger(nowMs) || nowMs < 0) throw new Error(`bad timestamp: ${nowMs}`);
  return `${String(nowMs).padStart(13, '0')}-${random.toString('hex')}`;
}

export function sortableIdTime(id: string): number {
  if (!SORTABLE_ID_PATTERN.test(id)) throw new Error(`not a sortable id: ${JSON.stringify(id)}`);
  return Number(id.slice(0, 13));
}

/** Lowest id at or after a given instant: `sk >= idFloor(t)` selects ids minted at or after t. */
export function idFloor(nowMs: number): string {
  return `${String(Math.max(0, Math.floor(nowMs))).padStart(13, '0')}-`;
}

// ---------------------------------------------------------------------------------------------
// Sessions: one row per pair (no sort key).
// ---------------------------------------------------------------------------------------------

export interface SessionRow {
  readonly pk: string;
  /** Written by the control plane (wake, task events, reap). */
  readonly status: SessionStatus;
  readonly taskArn?: string;
  readonly startedAt?: number;
  /** Hard deadline the reaper enforces (start + max task duration). */
  readonly deadlineAt?: number;
  /** Written for the runtime while busy (its heartbeat frames, via the relay); the reaper measures idleness from it. */
  readonly lastActivityAt?: number;
  /**
   * Written for the runtime (via the relay): id of the last inbox message it finished. Survives across sessions, so the
   * control plane's wake must UPDATE the row (never PutItem over an existing one).
   */
  readonly inboxCursor?: string;
  readonly stopReason?: string;
  readonly version?: number;
}

// ---------------------------------------------------------------------------------------------
// Inbox: sk = sortable message id. The API puts rows; the relay updates their state for the runtime.
// ---------------------------------------------------------------------------------------------

export type InboxState = 'queued' | 'running' | 'done' | 'failed' | 'interrupted';

export interface InboxRow {
  readonly pk: string;
  readonly sk: string;
  /** Request id of the API call that stored the message; carried into every event and log line. */
  readonly requestId: string;
  /**
   * The employee's message with its own id (and a scheduled message's policy), sealed under the user's key
   * (`cubicle-sealed:v1:...`; runtime/shared/sealed-rows.ts InboxContent); the runtime holds it opened in
   * memory only. Never logged.
   */
  readonly body: string;
  readonly createdAt: number;
  /**
   * Only on messages a schedule posted (runtime/control-plane/scheduled-run.ts): nobody is there to approve,
   * so the runtime applies this outbound policy and run cap instead of the agent's own policy. Stored for
   * operators to read; the runtime applies the copy sealed in `body`.
   */
  readonly schedule?: ScheduledMessagePolicy;
  /** Absent means queued. */
  readonly state?: InboxState;
  readonly attempts?: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
}

// ---------------------------------------------------------------------------------------------
// Events: sk = sequence number (1, 2, 3, ...); hash-chained per pair (see event-chain.ts).
// ---------------------------------------------------------------------------------------------

export const EVENT_TYPES = [
  'session.started',
  'session.stopping',
  'message.started',
  'message.done',
  'message.failed',
  'message.interrupted',
  'reply',
  'tool.call',
  'tool.allowed',
  'tool.denied',
  'file.written',
  'approval.requested',
  'approval.resolved',
  'usage',
] as const;
// budget.threshold (CONTROL_PLANE_EVENT_TYPES) is appended by the control plane only, so it is not here: the
// relay refuses runtime events outside this list, and a runtime must not be able to forge a budget notice.
export type EventType = (typeof EVENT_TYPES)[number];

export interface EventRow {
  readonly pk: string;
  readonly sk: number;
  readonly type: EventType | string;
  /** Epoch ms. */
  readonly at: number;
  readonly requestId: string;
  readonly messageId?: string;
  /** Event payload, already redacted. */
  readonly data: Record<string, unknown>;
  /** Hash of the event at sk - 1 (GENESIS_HASH for sk = 1). */
  readonly prevHash: string;
  readonly hash: string;
}

// ---------------------------------------------------------------------------------------------
// Approvals: sk = sortable approval id.
// The relay writes the pending request (and `expiredAt` on timeout) for the runtime; only the API writes
// the decision. The task role has no table access at all, so an agent cannot approve its own request.
// ---------------------------------------------------------------------------------------------

export type ApprovalDecision = 'approved' | 'denied';
export type ApprovalStatus = 'pending' | ApprovalDecision | 'expired';

export interface ApprovalRow {
  readonly pk: string;
  readonly sk: string;
  readonly requestId: string;
  readonly messageId: string;
  /** Tool name as the CLI reported it (e.g. `WebFetch`, `Bash`, `run_shell_command`). */
  readonly tool: string;
  /** Short, redacted description of the call for the employee. */
  readonly summary: string;
  /** Hosts the call names, if any could be read from it. */
  readonly hosts: string[];
  readonly createdAt: number;
  readonly expiresAt: number;
  /** Set by the runtime when it stops waiting (only if no decision exists). */
  readonly expiredAt?: number;
  /** Set by the control plane (only while neither decision nor expiredAt exists). */
  readonly decision?: ApprovalDecision;
  readonly decidedAt?: number;
  readonly decidedBy?: string;
  /**
   * `{ approvalId, decision, decidedBy }` sealed under the user's key (record 'approval.decision') by the API
   * for the verified employee: the runtime relay honours `decision` only when this opens and matches.
   */
  readonly decisionSeal?: string;
}

export function approvalStatus(row: Pick<ApprovalRow, 'decision' | 'expiredAt'>): ApprovalStatus {
  if (row.decision) return row.decision;
  return row.expiredAt !== undefined ? 'expired' : 'pending';
}

// ---------------------------------------------------------------------------------------------
// Control plane (issue 4): Sessions attributes only the control plane writes, and the lifecycle
// events it appends to a pair's chain. The runtime may read them; it never writes them.
// ---------------------------------------------------------------------------------------------

/** Statuses that keep a session in the sparse active index (ACTIVE_INDEX in tables.ts). */
export const ACTIVE_STATUSES = ['STARTING', 'RUNNING', 'STOPPING'] as const satisfies readonly SessionStatus[];

export interface ControlPlaneSessionRow extends SessionRow {
  /** Id of the current session (a UUID): RunTask's clientToken and the task's `group`. */
  readonly sessionId?: string;
  /** Request id of the API call that woke the session. */
  readonly requestId?: string;
  /** activeShardOf(pk) while the status is active; removed when it stops, so the index stays sparse. */
  readonly activeShard?: string;
  readonly runningAt?: number;
  readonly stoppingAt?: number;
  readonly stoppedAt?: number;
  /** ECS stop code and the essential container's exit code, from the STOPPED task event. */
  readonly stopCode?: string;
  readonly exitCode?: number;
  /** Request id of a wake that arrived while STOPPING: the STOPPED event starts a new session. */
  readonly wakePending?: string;
  /**
   * The session's relay nonce (32 random bytes), made when the session's task claims it over the relay and
   * stored sealed under the user's key (record 'relay.nonce'; runtime/relay/runtime-auth.ts). No runtime
   * role can read this table, and a reader of it gets only the sealed form.
   */
  readonly relayNonce?: string;
  /** When the nonce was claimed, and by which task id. */
  readonly relayClaimedAt?: number;
  readonly relayTask?: string;
}

/** Event types the control plane appends (data never holds message bodies or credentials). */
export const CONTROL_PLANE_EVENT_TYPES = [
  'lifecycle.running',
  'lifecycle.stopped',
  'lifecycle.failed',
  'lifecycle.sleep',
  'lifecycle.reap',
  'lifecycle.orphan',
  'approval.decided',
  /** A second claim of a session's relay nonce (security-relevant: someone else tried to be the runtime). */
  'relay.claim_refused',
  /** A stored credential was revoked (DELETE /v1/credentials/..., /v1/connections/.../credential). */
  'credential.revoked',
  /** A schedule of the config posted its message (runtime/control-plane/scheduled-run.ts). */
  'schedule.posted',
  /** A spend total crossed 80 % of its monthly limit, once a month (runtime/relay/runtime-usage.ts). */
  'budget.threshold',
] as const;
export type ControlPlaneEventType = (typeof CONTROL_PLANE_EVENT_TYPES)[number];
