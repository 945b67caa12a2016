/**
 * What each control-plane function may write, table by table: the top-level attribute names of its PutItem
 * and UpdateItem requests. One registry for two uses:
 * - IAM: the functions' write statements carry `dynamodb:Attributes` conditions from it
 *   (lib/constructs/control-plane-grants.ts bindTable);
 * - tests: a middleware on the test DynamoDB client evaluates every write the handler tests make against
 *   the synthesized policy of the function that makes it (test/support/write-guard.ts).
 *
 * A request's attributes, as DynamoDB counts them (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html):
 * the item's (PutItem) or key's (UpdateItem) attributes, every attribute the UpdateExpression sets, adds,
 * removes or reads, and every attribute the ConditionExpression tests. The key attributes are added here
 * from TABLES, and the index keys the writers set with them (ACTIVE_INDEX).
 *
 * Derived from the handlers' writes; the comment on each list names them.
 */
import { ACTIVE_INDEX, PARTITION_KEY, SORT_KEY, TABLES, type TableName } from './tables';

/** The functions that write tables (their construct ids are in lib/constructs; test names match). */
export const WRITER_FUNCTIONS = [
  'api',
  'credentials',
  'launcher',
  'task-events',
  'reaper',
  'scheduled-run',
  'relay-device',
  'relay-runtime',
  'relay-fanout',
  'notifier',
] as const;
export type WriterFunction = (typeof WRITER_FUNCTIONS)[number];

/** `ReturnValues` a write may ask for; NONE is what a request without the parameter means. */
export type ReturnValue = 'NONE' | 'ALL_OLD' | 'UPDATED_OLD' | 'ALL_NEW' | 'UPDATED_NEW';

export interface TableWrite {
  /** Attributes beyond the table's keys. */
  readonly attributes: readonly string[];
  /** ReturnValues the writes use (NONE always allowed). */
  readonly returnValues?: readonly ReturnValue[];
}

// --- Sessions (runtime/control-plane/lifecycle.ts unless said otherwise) -----------------------------------

/** ensureAwake: refresh, mark pending, claim a new session (clearing the last one's fields), a failed launch. */
const WAKE = [
  'status',
  'sessionId',
  'requestId',
  'startedAt',
  'deadlineAt',
  'lastActivityAt',
  ACTIVE_INDEX.partitionKey,
  'version',
  'taskArn',
  'stopReason',
  'stopCode',
  'exitCode',
  'wakePending',
  'runningAt',
  'stoppingAt',
  'stoppedAt',
  'relayClaimedAt',
  'relayTask',
  'relayNonce',
];
/** sleep and stopOrFinalize (the API's POST .../sleep). */
const SLEEP = [
  'status',
  'sessionId',
  'stoppingAt',
  'stoppedAt',
  'stopReason',
  'version',
  'wakePending',
  ACTIVE_INDEX.partitionKey,
];
/** launcher.ts: records the task ARN; failSession when RunTask fails. */
const LAUNCH = [
  'status',
  'sessionId',
  'taskArn',
  'version',
  'stopReason',
  'stoppedAt',
  ACTIVE_INDEX.partitionKey,
  'wakePending',
];
/** task-events.ts: RUNNING and STOPPED. */
const TASK_EVENTS = [
  'status',
  'sessionId',
  'taskArn',
  'runningAt',
  'lastActivityAt',
  'stoppedAt',
  'stopCode',
  'stopReason',
  'exitCode',
  'version',
  ACTIVE_INDEX.partitionKey,
  'wakePending',
];
/** reaper.ts: stop, fail or finalize a session it planned to (pinning lastActivityAt). */
const REAP = [
  'status',
  'sessionId',
  'stopReason',
  'version',
  'stoppingAt',
  'stoppedAt',
  'lastActivityAt',
  ACTIVE_INDEX.partitionKey,
  'wakePending',
];
/** The relay for the runtime: claiming the nonce (runtime-auth.ts), heartbeat and inbox cursor (runtime-rows.ts). */
const RUNTIME_SESSION = [
  'sessionId',
  'taskArn',
  'relayClaimedAt',
  'relayTask',
  'relayNonce',
  'lastActivityAt',
  'inboxCursor',
];

// --- The other tables ----------------------------------------------------------------------------------------

/** EventLog.append (runtime/shared/event-log.ts): the whole row, put once. */
const EVENT = ['type', 'at', 'requestId', 'messageId', 'data', 'prevHash', 'hash'];
/** records.ts putMessage: the sealed message (and a schedule's policy). */
const INBOX_PUT = ['requestId', 'body', 'createdAt', 'schedule'];
/** runtime-rows.ts: claim and finish a message. */
const INBOX_STATE = ['state', 'attempts', 'startedAt', 'claimTask', 'finishedAt'];
/** idempotency.ts: claim, answer, release, take over a stale claim. */
const IDEMPOTENCY = ['fingerprint', 'messageId', 'lockedUntil', 'expiresAt', 'answer'];
/** notifications.ts: one row per notified event, one counter per user and hour. */
const NOTIFY = ['expiresAt', 'sent'];
/** records.ts decideApproval (tested against the request's state). */
const APPROVAL_DECIDE = ['decision', 'decidedAt', 'decidedBy', 'decisionSeal', 'expiredAt', 'expiresAt'];
/** runtime-rows.ts: the sealed request (sealed-rows.ts sealApproval), its expiry. */
const APPROVAL_RUNTIME = [
  'requestId',
  'messageId',
  'tool',
  'sealed',
  'createdAt',
  'expiresAt',
  'expiredAt',
  'decision',
];
/** budget.ts UsageLedger: the month's counters and the 80 % notice. */
const USAGE = [
  'costMicroUsd',
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'messages',
  'unpricedMessages',
  'warnedAt',
];
/** runtime/relay/connections.ts: connection, subscription, presence and frame-sequence rows (the relay's own). */
const CONNECTIONS = [
  'connectionId',
  'connectedAt',
  'expiresAt',
  'window',
  'frames',
  'kind',
  'userId',
  'tokenExpiresAt',
  'agents',
  'pair',
  'taskId',
  'sessionId',
  'authenticated',
  'agentId',
  'cursor',
  'seq',
  'applying',
  'applyingAt',
];

const events: TableWrite = { attributes: EVENT };
const connections: TableWrite = { attributes: CONNECTIONS };
/** updateSession returns the row (ALL_NEW, or ALL_OLD for a STOPPED task event). */
const sessionRow = ['ALL_NEW', 'ALL_OLD'] as const;

export const TABLE_WRITES: Record<WriterFunction, Partial<Record<TableName, TableWrite>>> = {
  api: {
    sessions: { attributes: [...WAKE, ...SLEEP], returnValues: sessionRow },
    inbox: { attributes: INBOX_PUT },
    events,
    idempotency: { attributes: IDEMPOTENCY },
    approvals: { attributes: APPROVAL_DECIDE, returnValues: ['ALL_NEW'] },
  },
  credentials: { events },
  launcher: { sessions: { attributes: LAUNCH, returnValues: sessionRow }, events },
  'task-events': { sessions: { attributes: [...TASK_EVENTS, ...WAKE], returnValues: sessionRow }, events },
  reaper: { sessions: { attributes: [...REAP, ...WAKE], returnValues: sessionRow }, events },
  'scheduled-run': {
    sessions: { attributes: WAKE, returnValues: sessionRow },
    inbox: { attributes: INBOX_PUT },
    events,
    idempotency: { attributes: IDEMPOTENCY },
  },
  'relay-device': { connections },
  'relay-runtime': {
    sessions: { attributes: RUNTIME_SESSION, returnValues: ['ALL_NEW'] },
    inbox: { attributes: INBOX_STATE, returnValues: ['ALL_NEW'] },
    events,
    approvals: { attributes: APPROVAL_RUNTIME },
    connections,
    usage: { attributes: USAGE, returnValues: ['ALL_NEW'] },
  },
  'relay-fanout': { connections },
  notifier: { idempotency: { attributes: NOTIFY } },
};

/** The table's key attributes: always allowed with any write (DynamoDB needs them to address the item). */
export function keyAttributes(table: TableName): string[] {
  return 'sortKey' in TABLES[table] ? [PARTITION_KEY, SORT_KEY] : [PARTITION_KEY];
}

/** Every attribute the table's rows can hold: what a write asking for ALL_NEW/ALL_OLD can be answered with. */
export function rowAttributes(table: TableName): string[] {
  const all = new Set(keyAttributes(table));
  for (const writes of Object.values(TABLE_WRITES)) for (const a of writes[table]?.attributes ?? []) all.add(a);
  return [...all].sort();
}

/**
 * The attribute names a function's write statement on a table allows, sorted. A function whose writes ask
 * for the whole item back (ALL_NEW/ALL_OLD) is allowed the table's whole row shape: AWS describes
 * `dynamodb:Attributes` as the attributes a request names "or the attributes that are returned from a
 * request", so the returned row must pass the same list or the write would be refused.
 */
export function allowedAttributes(fn: WriterFunction, table: TableName): string[] {
  const write = TABLE_WRITES[fn][table];
  if (!write) throw new Error(`${fn} writes no ${table} rows (runtime/shared/table-writes.ts)`);
  if (write.returnValues?.some((v) => v === 'ALL_NEW' || v === 'ALL_OLD')) return rowAttributes(table);
  return [...new Set([...keyAttributes(table), ...write.attributes])].sort();
}

/** The ReturnValues a function's write statement on a table allows (NONE first). */
export function allowedReturnValues(fn: WriterFunction, table: TableName): ReturnValue[] {
  return ['NONE', ...(TABLE_WRITES[fn][table]?.returnValues ?? [])];
}
