import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { approvalStatus, newSortableId, type ApprovalRow, type ApprovalStatus } from '../../shared/rows';
import { PARTITION_KEY, SORT_KEY } from '../../shared/tables';

export interface ApprovalRequest {
  readonly requestId: string;
  readonly messageId: string;
  readonly tool: string;
  readonly summary: string;
  readonly hosts: string[];
}

export interface ApprovalOutcome {
  readonly approvalId: string;
  readonly status: Exclude<ApprovalStatus, 'pending'> | 'aborted';
  readonly decidedBy?: string;
}

const isConditionFailure = (error: unknown) =>
  error instanceof ConditionalCheckFailedException || (error as Error)?.name === 'ConditionalCheckFailedException';

/**
 * Pending approvals in the pair's Approvals partition. The runtime writes the request and waits,
 * polling the row, until the control plane writes a decision or the timeout passes (then it marks the
 * row expired, unless a decision won the race).
 */
export class ApprovalStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly pk: string,
    private readonly options: { timeoutMs: number; pollMs: number; now?: () => number },
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  async create(request: ApprovalRequest): Promise<ApprovalRow> {
    const createdAt = this.now();
    const row: ApprovalRow = {
      pk: this.pk,
      sk: newSortableId(createdAt),
      requestId: request.requestId,
      messageId: request.messageId,
      tool: request.tool,
      summary: request.summary,
      hosts: request.hosts,
      createdAt,
      expiresAt: createdAt + this.options.timeoutMs,
    };
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: row,
        ConditionExpression: 'attribute_not_exists(#sk)',
        ExpressionAttributeNames: { '#sk': SORT_KEY },
      }),
    );
    return row;
  }

  /** Waits for the decision. `signal` aborts the wait (task stopping); the row stays pending then. */
  async wait(row: ApprovalRow, signal?: AbortSignal): Promise<ApprovalOutcome> {
    while (true) {
      if (signal?.aborted) {
        // Close the request so nobody approves a call that can no longer happen; a decision that won
        // the race is reported as it is.
        const closed = await this.expire(row).catch(() => undefined);
        return closed && closed.status !== 'expired' ? closed : { approvalId: row.sk, status: 'aborted' };
      }
      const current = await this.read(row.sk);
      const status = current ? approvalStatus(current) : 'expired';
      if (status !== 'pending') return { approvalId: row.sk, status, decidedBy: current?.decidedBy };
      if (this.now() >= row.expiresAt) return this.expire(row);
      await sleep(Math.min(this.options.pollMs, Math.max(1, row.expiresAt - this.now())), signal);
    }
  }

  private async expire(row: ApprovalRow): Promise<ApprovalOutcome> {
    // The condition names no decision attribute: the task role may not touch decision attributes at all
    // (the fleet's dynamodb:Attributes condition), and the control plane decides only while expiredAt is
    // absent, so a decision read after this write is one that came first and stands.
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PARTITION_KEY]: this.pk, [SORT_KEY]: row.sk },
          UpdateExpression: 'SET expiredAt = :now',
          ConditionExpression: 'attribute_exists(#sk) AND attribute_not_exists(expiredAt)',
          ExpressionAttributeNames: { '#sk': SORT_KEY },
          ExpressionAttributeValues: { ':now': this.now() },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const current = await this.read(row.sk);
    const status = current ? approvalStatus(current) : 'expired';
    return { approvalId: row.sk, status: status === 'pending' ? 'expired' : status, decidedBy: current?.decidedBy };
  }

  private async read(sk: string): Promise<ApprovalRow | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { [PARTITION_KEY]: this.pk, [SORT_KEY]: sk }, ConsistentRead: true }),
    );
    return out.Item as ApprovalRow | undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
