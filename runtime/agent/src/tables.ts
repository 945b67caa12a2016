import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SealError } from '../../shared/envelope';
import { idFloor, sortableIdTime, type InboxRow, type InboxState, type SessionRow } from '../../shared/rows';
import { PARTITION_KEY, SORT_KEY } from '../../shared/tables';

export const isConditionFailure = (error: unknown): boolean =>
  error instanceof ConditionalCheckFailedException || (error as Error)?.name === 'ConditionalCheckFailedException';

/** Message ids minted this much out of order (clock skew between writers) are still picked up. */
export const INBOX_SKEW_MS = 5 * 60_000;
const FINISHED: ReadonlySet<InboxState> = new Set(['done', 'failed', 'interrupted']);

/** The runtime's own Sessions row: read once, heartbeat, inbox cursor. */
export class SessionTable {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly pk: string,
    private readonly taskArn: string | undefined,
  ) {}

  async read(): Promise<SessionRow | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { [PARTITION_KEY]: this.pk }, ConsistentRead: true }));
    return out.Item as SessionRow | undefined;
  }

  /** Refreshes lastActivityAt. Only on an existing row, and only while the row names this task (if known). */
  async heartbeat(now: number): Promise<boolean> {
    return this.update('SET lastActivityAt = :now', { ':now': now });
  }

  async advanceCursor(messageId: string): Promise<boolean> {
    return this.update('SET inboxCursor = :id', { ':id': messageId }, '(attribute_not_exists(inboxCursor) OR inboxCursor < :id)');
  }

  private async update(expression: string, values: Record<string, unknown>, extraCondition?: string): Promise<boolean> {
    const conditions = ['attribute_exists(#pk)'];
    if (this.taskArn) {
      conditions.push('taskArn = :taskArn');
      values = { ...values, ':taskArn': this.taskArn };
    }
    if (extraCondition) conditions.push(extraCondition);
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PARTITION_KEY]: this.pk },
          UpdateExpression: expression,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: { '#pk': PARTITION_KEY },
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}

/** An inbox row as the runtime holds it: body opened in memory, or why it could not be opened. */
export interface OpenedInboxRow extends InboxRow {
  /** Set when the sealed body could not be opened (not sealed, another key or context): the message fails, unread. */
  readonly unreadable?: string;
}

/** The runtime's Inbox partition: find the next unfinished message, claim it, record how it ended. */
export class InboxTable {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly pk: string,
    /** Opens a sealed body (RecordSealer.open for this pair's `inbox.body`). */
    private readonly openBody: (sealed: unknown) => Promise<string>,
  ) {}

  async next(cursor: string | undefined): Promise<OpenedInboxRow | undefined> {
    const from = cursor ? idFloor(sortableIdTime(cursor) - INBOX_SKEW_MS) : undefined;
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: from ? '#pk = :pk AND #sk > :from' : '#pk = :pk',
          ExpressionAttributeNames: from ? { '#pk': PARTITION_KEY, '#sk': SORT_KEY } : { '#pk': PARTITION_KEY },
          ExpressionAttributeValues: from ? { ':pk': this.pk, ':from': from } : { ':pk': this.pk },
          ConsistentRead: true,
          Limit: 50,
          ExclusiveStartKey: start,
        }),
      );
      const row = (out.Items as InboxRow[] | undefined)?.find((r) => !r.state || !FINISHED.has(r.state));
      if (row) return this.opened(row);
      start = out.LastEvaluatedKey;
    } while (start);
    return undefined;
  }

  private async opened(row: InboxRow): Promise<OpenedInboxRow> {
    try {
      return { ...row, body: await this.openBody(row.body) };
    } catch (error) {
      if (!(error instanceof SealError)) throw error; // KMS unavailable: the next poll tries again
      return { ...row, body: '', unreadable: error.message };
    }
  }

  /** Marks the row running and counts the attempt. Undefined when another writer finished it first. */
  async claim(row: OpenedInboxRow, now: number): Promise<OpenedInboxRow | undefined> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PARTITION_KEY]: this.pk, [SORT_KEY]: row.sk },
          UpdateExpression: 'SET #state = :running, attempts = if_not_exists(attempts, :zero) + :one, startedAt = :now',
          ConditionExpression: 'attribute_exists(#sk) AND (attribute_not_exists(#state) OR #state IN (:queued, :running))',
          ExpressionAttributeNames: { '#state': 'state', '#sk': SORT_KEY },
          ExpressionAttributeValues: { ':running': 'running', ':queued': 'queued', ':zero': 0, ':one': 1, ':now': now },
          ReturnValues: 'ALL_NEW',
        }),
      );
      // The stored body stays sealed; the opened one is what the runner uses.
      return { ...(out.Attributes as InboxRow), body: row.body, ...(row.unreadable ? { unreadable: row.unreadable } : {}) };
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async finish(messageId: string, state: Exclude<InboxState, 'queued' | 'running'>, now: number): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PARTITION_KEY]: this.pk, [SORT_KEY]: messageId },
        UpdateExpression: 'SET #state = :state, finishedAt = :now',
        ConditionExpression: 'attribute_exists(#sk)',
        ExpressionAttributeNames: { '#state': 'state', '#sk': SORT_KEY },
        ExpressionAttributeValues: { ':state': state, ':now': now },
      }),
    );
  }
}
