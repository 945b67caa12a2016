/**
 * Appends to a pair's Events partition: a conditional put on the next sequence number, carrying the
 * previous row's hash, MAC'd under the chain key (event-chain.ts). Several control-plane writers (the relay for a runtime, the API, the lifecycle
 * functions) may race; the loser re-reads the head and retries, so the chain stays linear.
 */
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { eventHash, GENESIS_HASH, type ChainKey } from './event-chain';
import { isConditionFailure } from './expressions';
import type { EventRow } from './rows';
import { PARTITION_KEY, SORT_KEY } from './tables';

export interface AppendInput {
  readonly type: string;
  readonly requestId: string;
  readonly messageId?: string;
  readonly data?: Record<string, unknown>;
}

export class EventLog {
  private head: { sk: number; hash: string } | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly pk: string,
    /** GenerateMac under the chain key: only control-plane appenders hold it. */
    private readonly chain: Pick<ChainKey, 'mac'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Appends one event; calls are serialized so events keep the order they were issued in. */
  append(input: AppendInput): Promise<EventRow> {
    const next = this.queue.then(() => this.appendNow(input));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async appendNow(input: AppendInput): Promise<EventRow> {
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const head = this.head ?? (await this.readHead());
      const base = {
        pk: this.pk,
        sk: head.sk + 1,
        type: input.type,
        at: this.now(),
        requestId: input.requestId,
        ...(input.messageId !== undefined ? { messageId: input.messageId } : {}),
        data: input.data ?? {},
        prevHash: head.hash,
      };
      const row: EventRow = { ...base, hash: await eventHash(this.chain, base) };
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: row,
            ConditionExpression: 'attribute_not_exists(#sk)',
            ExpressionAttributeNames: { '#sk': SORT_KEY },
          }),
        );
        this.head = { sk: row.sk, hash: row.hash };
        return row;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        this.head = undefined; // someone else appended: re-read the head
      }
    }
    throw new Error('could not append event after 10 attempts');
  }

  private async readHead(): Promise<{ sk: number; hash: string }> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': PARTITION_KEY },
        ExpressionAttributeValues: { ':pk': this.pk },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const last = out.Items?.[0] as EventRow | undefined;
    return last ? { sk: last.sk, hash: last.hash } : { sk: 0, hash: GENESIS_HASH };
  }
}

/** Reads a pair's whole chain in order (tests, audit export). */
export async function readEvents(doc: DynamoDBDocumentClient, tableName: string, pk: string): Promise<EventRow[]> {
  const rows: EventRow[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': PARTITION_KEY },
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    rows.push(...((out.Items ?? []) as EventRow[]));
    start = out.LastEvaluatedKey;
  } while (start);
  return rows;
}
