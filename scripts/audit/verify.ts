/**
 * `npm run audit:verify`: one pair's audit chain, checked against the chain key (VerifyMac) and, where the
 * archive is reachable, against its archived copies (runtime/control-plane/audit-archive.ts). Names the first
 * break: a row whose MAC is not the key's (rewritten, or a chain recomputed without the key), a missing
 * sequence number (deleted), a row that differs from its archived copy, or an archived row the table lost
 * (a deleted last row leaves no gap in the table, only in the archive).
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { archivePrefix } from '../../runtime/control-plane/audit-archive';
import { canonicalJson, verifyChain, type ChainKey } from '../../runtime/shared/event-chain';
import { readEvents } from '../../runtime/shared/event-log';
import type { EventRow } from '../../runtime/shared/rows';
import { pairKey } from '../../runtime/shared/tables';

/** The archived copies of one pair's events, by sequence number. */
export type ArchiveReader = (userId: string, agentId: string) => Promise<Map<number, EventRow>>;

export function s3Archive(s3: Pick<S3Client, 'send'>, bucket: string): ArchiveReader {
  return async (userId, agentId) => {
    const rows = new Map<number, EventRow>();
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: archivePrefix(userId, agentId), ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        const body = await (
          await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }))
        ).Body?.transformToString('utf8');
        const row = JSON.parse(body ?? '{}') as EventRow;
        rows.set(row.sk, row);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return rows;
  };
}

export interface PairVerdict {
  readonly ok: boolean;
  /** Rows in the table. */
  readonly length: number;
  /** Archived copies read (undefined: no archive given). */
  readonly archived?: number;
  readonly firstBreak?: { readonly sk: number; readonly reason: string };
  /** Rows not archived yet (the stream consumer may lag by seconds): reported, not a break. */
  readonly unarchived: readonly number[];
}

export async function verifyPair(o: {
  readonly doc: DynamoDBDocumentClient;
  readonly table: string;
  readonly key: Pick<ChainKey, 'verify'>;
  readonly userId: string;
  readonly agentId: string;
  readonly archive?: ArchiveReader;
}): Promise<PairVerdict> {
  const rows = await readEvents(o.doc, o.table, pairKey(o.userId, o.agentId));
  const breaks: { sk: number; reason: string }[] = [];
  const chain = await verifyChain(rows, o.key);
  if (!chain.ok) breaks.push({ sk: chain.sk, reason: chain.reason });
  const unarchived: number[] = [];
  let archived: number | undefined;
  if (o.archive) {
    const copies = await o.archive(o.userId, o.agentId);
    archived = copies.size;
    const bySk = new Map(rows.map((r) => [r.sk, r]));
    for (const [sk, copy] of copies) {
      const row = bySk.get(sk);
      if (!row) breaks.push({ sk, reason: 'archived, but missing from the table (deleted)' });
      else if (canonicalJson(row) !== canonicalJson(copy))
        breaks.push({ sk, reason: 'differs from its archived copy (rewritten)' });
    }
    for (const row of rows) if (!copies.has(row.sk)) unarchived.push(row.sk);
  }
  breaks.sort((a, b) => a.sk - b.sk);
  return { ok: breaks.length === 0, length: rows.length, archived, firstBreak: breaks[0], unarchived };
}
