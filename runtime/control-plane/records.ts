/**
 * Inbox, Events and Approvals rows as the employee API reads and writes them. Every key is built from
 * the caller's verified user id and one of that user's agents, so no request can address another pair.
 */
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { RecordSealer } from '../shared/envelope';
import type { ChainKey } from '../shared/event-chain';
import { EventLog } from '../shared/event-log';
import { approvalStatus, idFloor, newSortableId, type EventRow, type InboxRow } from '../shared/rows';
import { sealDecision, sealInboxBody, type StoredApprovalRow } from '../shared/sealed-rows';
import type { ScheduledMessagePolicy } from '../shared/schedules';
import { PARTITION_KEY, SORT_KEY } from '../shared/tables';
import { expression, isConditionFailure } from '../shared/expressions';
import type { SessionRow } from './lifecycle';

export interface RecordDeps {
  readonly doc: DynamoDBDocumentClient;
  readonly sessionsTable: string;
  readonly inboxTable: string;
  readonly eventsTable: string;
  /** MACs appended events under the chain key (runtime/shared/event-chain.ts). */
  readonly chain: Pick<ChainKey, 'mac'>;
  readonly approvalsTable: string;
  /** Idempotency-Key claims of POST /messages (runtime/control-plane/idempotency.ts). */
  readonly idempotencyTable: string;
  readonly now: () => number;
  /** Seals message text, opens events' data and approvals' summaries, under the user's key (runtime/shared/envelope.ts). */
  readonly sealer: Pick<RecordSealer, 'seal' | 'sealData' | 'openData'>;
}

export interface MessageOptions {
  /**
   * The id to store the message under (an Idempotency-Key's claimed id): if a message of that id is
   * already stored, nothing is written and its id is returned. @default a new sortable id
   */
  readonly messageId?: string;
  /** Only for scheduled messages: the unattended-run policy the runtime applies to this message. */
  readonly schedule?: ScheduledMessagePolicy;
}

/** Stores a message, sealed under the user's key, in the pair's inbox; the runtime reads it in sk (time) order. */
export async function putMessage(
  deps: RecordDeps,
  pk: string,
  text: string,
  requestId: string,
  options: MessageOptions = {},
): Promise<string> {
  const createdAt = deps.now();
  const sk = options.messageId ?? newSortableId(createdAt);
  // Sealed with its own id and policy (sealed-rows.ts InboxContent): a copy in another row opens as unreadable.
  const body = await sealInboxBody(deps.sealer, pk, {
    messageId: sk,
    text,
    ...(options.schedule ? { schedule: options.schedule } : {}),
  });
  const row: InboxRow = {
    pk,
    sk,
    requestId,
    body,
    createdAt,
    ...(options.schedule ? { schedule: options.schedule } : {}),
  };
  try {
    await deps.doc.send(
      new PutCommand({
        TableName: deps.inboxTable,
        Item: row,
        ...expression({ ConditionExpression: `attribute_not_exists(#${SORT_KEY})` }),
      }),
    );
  } catch (error) {
    if (!(options.messageId && isConditionFailure(error))) throw error;
  }
  return row.sk;
}

/** Sessions rows of several pairs (BatchGetItem, 100 keys per call), keyed by pk. */
export async function getSessions(deps: RecordDeps, pks: readonly string[]): Promise<Map<string, SessionRow>> {
  const found = new Map<string, SessionRow>();
  for (let i = 0; i < pks.length; i += 100) {
    let keys: Record<string, unknown>[] | undefined = pks.slice(i, i + 100).map((pk) => ({ [PARTITION_KEY]: pk }));
    for (let attempt = 0; keys && keys.length > 0 && attempt < 5; attempt += 1) {
      const out: BatchGetCommandOutput = await deps.doc.send(
        new BatchGetCommand({ RequestItems: { [deps.sessionsTable]: { Keys: keys } } }),
      );
      for (const item of out.Responses?.[deps.sessionsTable] ?? []) found.set(item.pk as string, item as SessionRow);
      keys = out.UnprocessedKeys?.[deps.sessionsTable]?.Keys;
    }
  }
  return found;
}

export interface EventPage {
  readonly events: EventRow[];
  readonly more: boolean;
}

/** Events with sequence number > after, oldest first. */
export async function readEventPage(deps: RecordDeps, pk: string, after: number, limit: number): Promise<EventPage> {
  const out = await deps.doc.send(
    new QueryCommand({
      TableName: deps.eventsTable,
      Limit: limit,
      ScanIndexForward: true,
      ...expression({ KeyConditionExpression: `#${PARTITION_KEY} = :pk AND #${SORT_KEY} > :after` }, { pk, after }),
    }),
  );
  return { events: (out.Items ?? []) as EventRow[], more: out.LastEvaluatedKey !== undefined };
}

/**
 * How far back a pending approval can have been created: longer than the longest wait a runtime may be
 * configured with (CUBICLE_APPROVAL_TIMEOUT_MS, at most 14 minutes), so the query reads a bounded slice
 * of the pair's approvals instead of its whole history.
 */
export const PENDING_APPROVAL_WINDOW_MS = 15 * 60_000;

/**
 * Approvals of one pair still waiting for a decision (no decision, not expired, not past expiresAt),
 * oldest first. One Query per pair on its own partition, bounded by the window above.
 */
export async function readPendingApprovals(deps: RecordDeps, pk: string): Promise<StoredApprovalRow[]> {
  const now = deps.now();
  const rows: StoredApprovalRow[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await deps.doc.send(
      new QueryCommand({
        TableName: deps.approvalsTable,
        ExclusiveStartKey: start,
        ScanIndexForward: true,
        ...expression(
          {
            KeyConditionExpression: `#${PARTITION_KEY} = :pk AND #${SORT_KEY} >= :floor`,
            FilterExpression:
              'attribute_not_exists(#decision) AND attribute_not_exists(#expiredAt) AND #expiresAt > :now',
          },
          { pk, floor: idFloor(now - PENDING_APPROVAL_WINDOW_MS), now },
        ),
      }),
    );
    rows.push(...((out.Items ?? []) as StoredApprovalRow[]));
    start = out.LastEvaluatedKey;
  } while (start);
  return rows;
}

export type DecideResult =
  | { readonly ok: true; readonly row: StoredApprovalRow }
  | { readonly ok: false; readonly why: 'not-found' | 'already-decided' | 'expired'; readonly status?: string };

/** Records the employee's decision once, while the request is pending and not past its expiry. */
export async function decideApproval(
  deps: RecordDeps,
  pk: string,
  approvalId: string,
  decision: 'approved' | 'denied',
  userId: string,
  requestId: string,
): Promise<DecideResult> {
  const now = deps.now();
  // Sealed for the verified employee: the runtime relay honours no decision without it (sealed-rows.ts).
  const seal = await sealDecision(deps.sealer, pk, { approvalId, decision, decidedBy: userId });
  try {
    const out = await deps.doc.send(
      new UpdateCommand({
        TableName: deps.approvalsTable,
        Key: { [PARTITION_KEY]: pk, [SORT_KEY]: approvalId },
        ReturnValues: 'ALL_NEW',
        ...expression(
          {
            UpdateExpression: 'SET #decision = :decision, #decidedAt = :now, #decidedBy = :user, #decisionSeal = :seal',
            ConditionExpression:
              'attribute_exists(#pk) AND attribute_not_exists(#decision) AND attribute_not_exists(#expiredAt) AND #expiresAt > :now',
          },
          { decision, now, user: userId, seal },
        ),
      }),
    );
    const row = out.Attributes as StoredApprovalRow;
    await new EventLog(deps.doc, deps.eventsTable, pk, deps.chain, deps.now).append({
      type: 'approval.decided',
      requestId,
      messageId: row.messageId,
      data: { approvalId, decision },
    });
    return { ok: true, row };
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
  const out = await deps.doc.send(
    new GetCommand({
      TableName: deps.approvalsTable,
      Key: { [PARTITION_KEY]: pk, [SORT_KEY]: approvalId },
      ConsistentRead: true,
    }),
  );
  const row = out.Item as StoredApprovalRow | undefined;
  if (!row) return { ok: false, why: 'not-found' };
  const status = approvalStatus(row);
  if (status === 'pending') return { ok: false, why: 'expired', status: 'expired' };
  return { ok: false, why: status === 'expired' ? 'expired' : 'already-decided', status };
}
