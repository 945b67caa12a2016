/**
 * The rows a runtime's frames become: one function per row kind, each the only place that row is built
 * on a runtime's behalf. Event data and approval summaries are sealed under the user's key here
 * (runtime/shared/sealed-rows.ts) before they reach a table. The pair always comes from the connection's
 * verified task (runtime-auth.ts), never from an operation.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { expression, isConditionFailure } from '../shared/expressions';
import type { ChainKey } from '../shared/event-chain';
import { EventLog } from '../shared/event-log';
import type { RuntimeOp } from '../shared/relay-protocol';
import { approvalStatus, idFloor, sortableIdTime, type InboxRow, type InboxState } from '../shared/rows';
import {
  sealApproval,
  sealEventData,
  verifiedDecision,
  type DataOpener,
  type DataSealer,
  type StoredApprovalRow,
} from '../shared/sealed-rows';
import { PARTITION_KEY, SORT_KEY } from '../shared/tables';
import type { NonceSealer } from './runtime-auth';
import { inboxHold, recordUsage, usageOfFrame, type RuntimeBudgets } from './runtime-usage';
import { BUDGET_THRESHOLD_EVENT, USAGE_EVENT } from '../shared/usage';

export interface RowDeps {
  readonly doc: DynamoDBDocumentClient;
  readonly sessionsTable: string;
  readonly inboxTable: string;
  readonly eventsTable: string;
  /** MACs appended events under the chain key (runtime/shared/event-chain.ts). */
  readonly chain: Pick<ChainKey, 'mac'>;
  readonly approvalsTable: string;
  readonly now: () => number;
  /** Event logs by pair, kept across invocations (the head is re-read when another writer appended). */
  readonly eventLogs: Map<string, EventLog>;
  /** Seals event data and approval summaries under the pair's user key, and opens the employee's sealed decisions. */
  readonly sealer: DataSealer & DataOpener & NonceSealer;
  /** Security log lines (a decision that was not sealed for the employee). */
  readonly log?: Pick<Logger, 'warn'>;
  /** Monthly counters and limits (runtime-usage.ts); absent, usage events are only appended. */
  readonly budgets?: RuntimeBudgets;
}

/** The verified runtime a frame came from. */
export interface RuntimeContext {
  readonly pair: string;
  readonly taskId: string;
  readonly taskArn: string;
  readonly sessionId: string;
}

/** An approval request may wait at most this long (below the CLI hooks' 15-minute timeout). */
export const MAX_APPROVAL_WAIT_MS = 14 * 60_000;
/** Message ids minted this much out of order (clock skew between writers) are still picked up. */
export const INBOX_SKEW_MS = 5 * 60_000;
const FINISHED: ReadonlySet<InboxState> = new Set(['done', 'failed', 'interrupted']);

export type OpResult = Record<string, unknown>;

export async function applyOp(deps: RowDeps, ctx: RuntimeContext, op: RuntimeOp): Promise<OpResult> {
  switch (op.op) {
    case 'event':
      return appendRuntimeEvent(deps, ctx, op);
    case 'approval.request':
      return requestApproval(deps, ctx, op);
    case 'approval.status':
      return approvalOutcome(deps, ctx, op.approvalId);
    case 'approval.expire':
      return expireApproval(deps, ctx, op.approvalId);
    case 'inbox.next': {
      const row = await nextMessage(deps, ctx, op.after);
      // Held at 100 % or with a kill switch: the row stays queued (not claimed, not lost) for a later wake.
      const held = row && deps.budgets ? await inboxHold(deps.budgets, ctx.pair, deps.now()) : undefined;
      return held ? { row: null, held } : { row: row ?? null };
    }
    case 'inbox.claim':
      return { row: (await claimMessage(deps, ctx, op.messageId)) ?? null };
    case 'inbox.finish':
      return finishMessage(deps, ctx, op.messageId, op.state);
    case 'inbox.cursor':
      return {
        ok: await updateOwnSession(
          deps,
          ctx,
          'SET #inboxCursor = :id',
          '(attribute_not_exists(#inboxCursor) OR #inboxCursor < :id)',
          { id: op.messageId },
        ),
      };
    case 'heartbeat':
      return { ok: await updateOwnSession(deps, ctx, 'SET #lastActivityAt = :now', undefined, { now: deps.now() }) };
    case 'ping':
      return {};
  }
}

/** A runtime event: appended to the pair's hash chain (types limited to the runtime's, EVENT_TYPES). */
export async function appendRuntimeEvent(
  deps: RowDeps,
  ctx: RuntimeContext,
  op: Extract<RuntimeOp, { op: 'event' }>,
): Promise<OpResult> {
  let log = deps.eventLogs.get(ctx.pair);
  if (!log) {
    log = new EventLog(deps.doc, deps.eventsTable, ctx.pair, deps.chain, deps.now);
    deps.eventLogs.set(ctx.pair, log);
  }
  const data = await sealEventData(deps.sealer, ctx.pair, op.data ?? {});
  const row = await log.append({ type: op.type, requestId: op.requestId, messageId: op.messageId, data });
  const usage = op.type === USAGE_EVENT && deps.budgets ? usageOfFrame(op.data) : undefined;
  if (usage && deps.budgets) {
    // Appended like the control plane's own events (data in the clear: amounts and a month, no text).
    for (const notice of await recordUsage(deps.budgets, ctx.pair, usage, deps.now()))
      await log.append({
        type: BUDGET_THRESHOLD_EVENT,
        requestId: op.requestId,
        messageId: op.messageId,
        data: notice,
      });
  }
  return { seq: row.sk };
}

/** A pending approval. Idempotent by approval id (a frame resent after a lost ack changes nothing). */
export async function requestApproval(
  deps: RowDeps,
  ctx: RuntimeContext,
  op: Extract<RuntimeOp, { op: 'approval.request' }>,
): Promise<OpResult> {
  const createdAt = deps.now();
  const row = await sealApproval(deps.sealer, {
    pk: ctx.pair,
    sk: op.approvalId,
    requestId: op.requestId,
    messageId: op.messageId,
    tool: op.tool,
    summary: op.summary,
    hosts: op.hosts,
    createdAt,
    expiresAt: Math.min(op.expiresAt, createdAt + MAX_APPROVAL_WAIT_MS),
  });
  try {
    await deps.doc.send(
      new PutCommand({
        TableName: deps.approvalsTable,
        Item: row,
        ...expression({ ConditionExpression: `attribute_not_exists(#${SORT_KEY})` }),
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
  return { expiresAt: row.expiresAt };
}

export async function approvalOutcome(deps: RowDeps, ctx: RuntimeContext, approvalId: string): Promise<OpResult> {
  const out = await deps.doc.send(
    new GetCommand({
      TableName: deps.approvalsTable,
      Key: { [PARTITION_KEY]: ctx.pair, [SORT_KEY]: approvalId },
      ConsistentRead: true,
    }),
  );
  const row = out.Item as StoredApprovalRow | undefined;
  if (!row) return { status: 'expired' };
  if (!row.decision) return { status: approvalStatus(row) };
  // A decision counts only as the API sealed it for the employee; one written into the table by anyone
  // else (or copied from another approval) is refused: the call does not run.
  const decided = await verifiedDecision(deps.sealer, row);
  if (!decided) {
    deps.log?.warn('approval decision refused: not sealed by the control plane for this approval', {
      pair: ctx.pair,
      approval_id: approvalId,
      security_event: 'approval.unsealed_decision',
    });
    return { status: 'denied' };
  }
  return { status: decided.decision, decidedBy: decided.decidedBy };
}

/** Closes an unanswered request; a decision that came first stands (the control plane decides only while expiredAt is absent). */
export async function expireApproval(deps: RowDeps, ctx: RuntimeContext, approvalId: string): Promise<OpResult> {
  try {
    await deps.doc.send(
      new UpdateCommand({
        TableName: deps.approvalsTable,
        Key: { [PARTITION_KEY]: ctx.pair, [SORT_KEY]: approvalId },
        ...expression(
          {
            UpdateExpression: 'SET #expiredAt = :now',
            ConditionExpression:
              'attribute_exists(#sk) AND attribute_not_exists(#expiredAt) AND attribute_not_exists(#decision)',
          },
          { now: deps.now() },
        ),
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
  return approvalOutcome(deps, ctx, approvalId);
}

/** The first unfinished message after the cursor (minus the skew window), oldest first. */
export async function nextMessage(
  deps: RowDeps,
  ctx: RuntimeContext,
  cursor: string | undefined,
): Promise<InboxRow | undefined> {
  const from = cursor ? idFloor(sortableIdTime(cursor) - INBOX_SKEW_MS) : undefined;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await deps.doc.send(
      new QueryCommand({
        TableName: deps.inboxTable,
        ConsistentRead: true,
        Limit: 50,
        ExclusiveStartKey: start,
        ...(from
          ? expression(
              { KeyConditionExpression: `#${PARTITION_KEY} = :pk AND #${SORT_KEY} > :from` },
              { pk: ctx.pair, from },
            )
          : expression({ KeyConditionExpression: `#${PARTITION_KEY} = :pk` }, { pk: ctx.pair })),
      }),
    );
    const row = (out.Items as InboxRow[] | undefined)?.find((r) => !r.state || !FINISHED.has(r.state));
    if (row) return row;
    start = out.LastEvaluatedKey;
  } while (start);
  return undefined;
}

/**
 * Marks a message running and counts the attempt; undefined when it is finished. A second claim by the
 * same task (its ack was lost) returns the row without counting again.
 */
export async function claimMessage(
  deps: RowDeps,
  ctx: RuntimeContext,
  messageId: string,
): Promise<InboxRow | undefined> {
  const key = { [PARTITION_KEY]: ctx.pair, [SORT_KEY]: messageId };
  try {
    const out = await deps.doc.send(
      new UpdateCommand({
        TableName: deps.inboxTable,
        Key: key,
        ReturnValues: 'ALL_NEW',
        ...expression(
          {
            UpdateExpression:
              'SET #state = :running, #attempts = if_not_exists(#attempts, :zero) + :one, #startedAt = :now, #claimTask = :task',
            ConditionExpression:
              'attribute_exists(#sk) AND (attribute_not_exists(#state) OR #state IN (:queued, :running)) AND (attribute_not_exists(#claimTask) OR #claimTask <> :task)',
          },
          { running: 'running', queued: 'queued', zero: 0, one: 1, now: deps.now(), task: ctx.taskId },
        ),
      }),
    );
    return out.Attributes as InboxRow;
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
  const out = await deps.doc.send(new GetCommand({ TableName: deps.inboxTable, Key: key, ConsistentRead: true }));
  const row = out.Item as (InboxRow & { claimTask?: string }) | undefined;
  return row?.state === 'running' && row.claimTask === ctx.taskId ? row : undefined;
}

export async function finishMessage(
  deps: RowDeps,
  ctx: RuntimeContext,
  messageId: string,
  state: Exclude<InboxState, 'queued' | 'running'>,
): Promise<OpResult> {
  await deps.doc.send(
    new UpdateCommand({
      TableName: deps.inboxTable,
      Key: { [PARTITION_KEY]: ctx.pair, [SORT_KEY]: messageId },
      ...expression(
        { UpdateExpression: 'SET #state = :state, #finishedAt = :now', ConditionExpression: 'attribute_exists(#sk)' },
        { state, now: deps.now() },
      ),
    }),
  );
  return {};
}

/** Heartbeat and inbox cursor: only on the row of this session and task. */
async function updateOwnSession(
  deps: RowDeps,
  ctx: RuntimeContext,
  update: string,
  extra: string | undefined,
  values: Record<string, unknown>,
): Promise<boolean> {
  try {
    await deps.doc.send(
      new UpdateCommand({
        TableName: deps.sessionsTable,
        Key: { pk: ctx.pair },
        ...expression(
          {
            UpdateExpression: update,
            ConditionExpression: `#sessionId = :sid AND #taskArn = :arn${extra ? ` AND ${extra}` : ''}`,
          },
          { ...values, sid: ctx.sessionId, arn: ctx.taskArn },
        ),
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}
