/**
 * The relay's wire protocol (README "Relay"), shared by the relay handlers, the local WebSocket adapter,
 * the supervisor's relay client and the tests. Every frame is one JSON text message.
 *
 * Devices (employees' browsers and CLIs) offer the subprotocols `cubicle.v1` and `bearer.<JWT>`, then
 * subscribe to their own agents' events. Runtimes (agent supervisors) connect with their task identity,
 * claim the task's nonce once, and send HMAC'd frames (relay-mac.ts) of operations that the control
 * plane turns into rows.
 */
import * as z from 'zod/mini';
import { ID_MAX_LENGTH, ID_PATTERN } from './ids';
import { EVENT_TYPES, SORTABLE_ID_PATTERN } from './rows';

export const DEVICE_SUBPROTOCOL = 'cubicle.v1';
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';
/** Public path of the device relay on the API's CloudFront origin. */
export const RELAY_PATH = '/v1/relay';

export { MAX_RUNTIME_FRAME_BYTES } from './relay-limits';
/** Device frames are small commands. */
export const MAX_DEVICE_FRAME_BYTES = 4 * 1024;
/** Events replayed per subscribe; past it `subscribed.more` is true and the device subscribes again from `cursor`. */
export const REPLAY_LIMIT = 1_000;

// ---------------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------------

const agentId = z.string().check(z.maxLength(ID_MAX_LENGTH), z.regex(ID_PATTERN));
const cursor = z.number().check(z.int(), z.minimum(0), z.maximum(Number.MAX_SAFE_INTEGER));

export const DEVICE_FRAME = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('subscribe'), agentId, after: z.optional(cursor) }),
  z.strictObject({ type: z.literal('unsubscribe'), agentId }),
  z.strictObject({ type: z.literal('ping') }),
]);
export type DeviceFrame = z.output<typeof DEVICE_FRAME>;

/** What the relay sends a device. `event.event` has the shape of one item of GET /events. */
export type DeviceMessage =
  | { readonly type: 'event'; readonly agentId: string; readonly seq: number; readonly event: Record<string, unknown> }
  | { readonly type: 'subscribed'; readonly agentId: string; readonly cursor: number; readonly more: boolean }
  | { readonly type: 'unsubscribed'; readonly agentId: string }
  | { readonly type: 'pong' }
  | { readonly type: 'error'; readonly message: string };

// ---------------------------------------------------------------------------------------------
// Runtimes
// ---------------------------------------------------------------------------------------------

const requestId = z.string().check(z.minLength(1), z.maxLength(128), z.regex(/^[\w.:-]+$/));
const sortableId = z.string().check(z.regex(SORTABLE_ID_PATTERN));
const text = (max: number) => z.string().check(z.maxLength(max));

/** One operation in a runtime frame; the relay derives (user, agent) from the connection, never from an op. */
export const RUNTIME_OP = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('event'),
    type: z.enum(EVENT_TYPES),
    requestId,
    messageId: z.optional(sortableId),
    data: z.record(z.string().check(z.maxLength(64)), z.unknown()),
  }),
  z.strictObject({
    op: z.literal('approval.request'),
    approvalId: sortableId,
    requestId,
    messageId: sortableId,
    tool: text(200),
    summary: text(1_000),
    hosts: z.array(text(253)).check(z.maxLength(50)),
    expiresAt: cursor,
  }),
  z.strictObject({ op: z.literal('approval.status'), approvalId: sortableId }),
  z.strictObject({ op: z.literal('approval.expire'), approvalId: sortableId }),
  z.strictObject({ op: z.literal('inbox.next'), after: z.optional(sortableId) }),
  z.strictObject({ op: z.literal('inbox.claim'), messageId: sortableId }),
  z.strictObject({
    op: z.literal('inbox.finish'),
    messageId: sortableId,
    state: z.enum(['done', 'failed', 'interrupted']),
  }),
  z.strictObject({ op: z.literal('inbox.cursor'), messageId: sortableId }),
  z.strictObject({ op: z.literal('heartbeat') }),
  z.strictObject({ op: z.literal('ping') }),
]);
export type RuntimeOp = z.output<typeof RUNTIME_OP>;

/** The signed body of a runtime frame. */
export const RUNTIME_BODY = z.strictObject({ ops: z.array(RUNTIME_OP).check(z.minLength(1), z.maxLength(100)) });

/** Runtime → relay. `claim` and `hello` come before the runtime can sign (see README "Relay"). */
export const RUNTIME_FRAME = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('claim') }),
  z.strictObject({ type: z.literal('hello') }),
  z.strictObject({
    type: z.literal('resume'),
    body: z.string().check(z.maxLength(64)),
    mac: z.string().check(z.maxLength(64)),
  }),
  z.strictObject({ type: z.literal('frame'), seq: cursor, body: z.string(), mac: z.string().check(z.maxLength(64)) }),
]);
export type RuntimeFrame = z.output<typeof RUNTIME_FRAME>;

/** What the runtime learns about its session when it claims or resumes. */
export interface SessionInfo {
  readonly sessionId: string;
  readonly deadlineAt?: number;
  readonly inboxCursor?: string;
}

/** Relay → runtime. `ack` and `resumed` are signed with the nonce (direction `relay`). */
export type RelayMessage =
  | { readonly type: 'claimed'; readonly connectionId: string; readonly nonce: string; readonly session: SessionInfo }
  | { readonly type: 'hello'; readonly connectionId: string }
  | { readonly type: 'resumed'; readonly body: string; readonly mac: string }
  | { readonly type: 'ack'; readonly seq: number; readonly body: string; readonly mac: string }
  | { readonly type: 'nudge'; readonly what: 'inbox' | 'approval' }
  | { readonly type: 'error'; readonly message: string };

/** Body of `resumed`: the last frame the relay applied for this task, and the session. */
export interface ResumedBody {
  readonly lastSeq: number;
  readonly session: SessionInfo;
}
