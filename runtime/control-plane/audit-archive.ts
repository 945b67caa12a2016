/**
 * The audit archive (docs/isolation-claims.md claim 8): a DynamoDB stream consumer on the Events table.
 * - INSERT: the new row is written, as stored (data sealed, hash keyed), to the archive bucket, whose S3
 *   Object Lock in compliance mode keeps every object unchanged for the retention period, from anyone,
 *   the root user included. `audit:verify` compares the table with it.
 * - MODIFY or REMOVE: Events rows are append-only, so either is tampering (or a bug): a security event
 *   (the SecurityEvents topic and a `security_event` log line) names the row. The archived copy stays.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { canonicalJson } from '../shared/event-chain';
import type { EventRow } from '../shared/rows';
import { parsePairKey } from '../shared/tables';
import { isNotified, type NotifyRequest } from './notified-events';

export interface ArchiveDeps {
  readonly s3: Pick<S3Client, 'send'>;
  readonly bucket: string;
  readonly sns: Pick<SNSClient, 'send'>;
  /** The SecurityEvents topic (lib/constructs/security-events.ts). */
  readonly topicArn: string;
  readonly log: Pick<Logger, 'warn'>;
  /** With email notifications on: hands a notified event (no data) to the notifier (notifications.ts). */
  readonly notify?: (request: NotifyRequest) => Promise<void>;
}

/** Where one event's archived copy lives: one object per (pair, sequence number), zero-padded so keys sort by sk. */
export function archiveKey(pk: string, sk: number): string {
  const { userId, agentId } = parsePairKey(pk);
  return `${archivePrefix(userId, agentId)}${String(sk).padStart(12, '0')}.json`;
}

export function archivePrefix(userId: string, agentId: string): string {
  return `events/${userId}/${agentId}/`;
}

export const TAMPER_EVENTS = { MODIFY: 'audit.event_modified', REMOVE: 'audit.event_removed' } as const;

/**
 * Handles one stream batch in order. Returns the sequence number of the first record that failed (the stream
 * retries from there), or undefined.
 */
export async function archiveRecords(
  deps: ArchiveDeps,
  records: readonly DynamoDBRecord[],
): Promise<string | undefined> {
  for (const record of records) {
    try {
      if (record.eventName === 'INSERT') {
        const row = unmarshall(record.dynamodb?.NewImage as never) as EventRow;
        await archiveRow(deps, row);
        await notifyOf(deps, row);
      } else if (record.eventName === 'MODIFY' || record.eventName === 'REMOVE') await raiseTamper(deps, record);
    } catch (error) {
      deps.log.warn('audit archive failed; the stream retries', {
        error: (error as Error).message,
        sequence_number: record.dynamodb?.SequenceNumber,
      });
      return record.dynamodb?.SequenceNumber ?? '';
    }
  }
  return undefined;
}

/** Best effort: a mail that cannot be handed over is logged, never a reason to hold the archive back. */
async function notifyOf(deps: ArchiveDeps, row: EventRow): Promise<void> {
  if (!deps.notify || !isNotified(row.type)) return;
  try {
    await deps.notify({ pk: row.pk, sk: row.sk, type: row.type });
  } catch (error) {
    deps.log.warn('notification not handed over', { error: (error as Error).message, type: row.type });
  }
}

/**
 * Writes the row once: `If-None-Match: *` makes a redelivered record a no-op instead of a second version
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html); the SHA-256 checksum is
 * what S3 requires of writes into an Object Lock bucket. Should S3 refuse the condition (501), a plain put
 * is still right: a second version of the same bytes, locked like the first.
 */
async function archiveRow(deps: ArchiveDeps, row: EventRow): Promise<void> {
  const put = (conditional: boolean) =>
    deps.s3.send(
      new PutObjectCommand({
        Bucket: deps.bucket,
        Key: archiveKey(row.pk, row.sk),
        Body: canonicalJson(row),
        ContentType: 'application/json',
        ChecksumAlgorithm: 'SHA256',
        ...(conditional ? { IfNoneMatch: '*' } : {}),
      }),
    );
  try {
    await put(true);
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    // Archived by an earlier delivery of this record (the stream delivers at least once).
    if (status === 412 || (error as Error).name === 'PreconditionFailed') return;
    if (status === 501) return void (await put(false));
    throw error;
  }
}

async function raiseTamper(deps: ArchiveDeps, record: DynamoDBRecord): Promise<void> {
  const keys = unmarshall((record.dynamodb?.Keys ?? {}) as never) as { pk?: string; sk?: number };
  const securityEvent = TAMPER_EVENTS[record.eventName as 'MODIFY' | 'REMOVE'];
  const fields = {
    security_event: securityEvent,
    pk: keys.pk,
    sk: keys.sk,
    event_id: record.eventID,
    // Present for deletions DynamoDB makes itself (TTL); the Events table has none, so absent means a caller.
    user_identity: record.userIdentity,
  };
  deps.log.warn('audit event row changed after it was appended', fields);
  // Imported here: a batch of new events, the archiver's every call, does not load the SNS client.
  const { PublishCommand } = await import('@aws-sdk/client-sns');
  await deps.sns.send(
    new PublishCommand({
      TopicArn: deps.topicArn,
      Subject: `Cubicle security event: ${securityEvent}`,
      Message: JSON.stringify({
        securityEvent,
        meaning: `An Events row (append-only) was ${record.eventName === 'MODIFY' ? 'rewritten' : 'deleted'}: the audit chain of this pair no longer verifies; its archived copy is under Object Lock (npm run audit:verify).`,
        pk: keys.pk,
        sk: keys.sk,
        eventId: record.eventID,
        time: record.dynamodb?.ApproximateCreationDateTime,
      }),
    }),
  );
}
