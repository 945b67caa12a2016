import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { archiveKey, archiveRecords, TAMPER_EVENTS } from '../../../runtime/control-plane/audit-archive';
import { kmsChainKey } from '../../../runtime/shared/chain-key';
import { eventDigest, GENESIS_HASH } from '../../../runtime/shared/event-chain';
import { EventLog, readEvents } from '../../../runtime/shared/event-log';
import type { EventRow } from '../../../runtime/shared/rows';
import { pairKey } from '../../../runtime/shared/tables';
import { main } from '../../../scripts/audit/cli';
import { s3Archive, verifyPair } from '../../../scripts/audit/verify';
import { fakeKms } from '../../support/fake-kms';
import { startDynamo, type TestDynamo } from '../../support/dynamo';

/**
 * The audit trail out of reach (docs/isolation-claims.md claim 8): events are MAC'd under a KMS HMAC key
 * (faked at the client), the Events stream consumer archives every INSERT to S3 (faked at the client, an
 * Object Lock bucket that refuses a second write of a key) and raises every MODIFY and REMOVE, and
 * `audit:verify` names the first break of a rewritten row, a deleted row and a chain re-hashed without the key.
 */

const BUCKET = 'acme-audit-archive';
const TOPIC = 'arn:aws:sns:eu-west-1:111111111111:acme-security-events';
const kms = fakeKms();
const KEY_ARN = kms.createKey('00000000-0000-4000-8000-00000000c4a1');
const chain = kmsChainKey(kms.client, KEY_ARN);

let dynamo: TestDynamo;
const s3 = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const sns = new SNSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const s3Mock = mockClient(s3);
const snsMock = mockClient(sns);
/** The bucket's objects: one version per key, as Object Lock and If-None-Match keep it. */
const objects = new Map<string, string>();
const warnings: Record<string, unknown>[] = [];
const deps = {
  s3,
  sns,
  bucket: BUCKET,
  topicArn: TOPIC,
  log: { warn: (_m: string, fields?: Record<string, unknown>) => void warnings.push(fields ?? {}) },
} as never;

beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo.close();
});
beforeEach(() => {
  s3Mock.reset();
  snsMock.reset();
  warnings.length = 0;
  s3Mock.on(PutObjectCommand).callsFake(async (input: { Key: string; Body: string; IfNoneMatch?: string }) => {
    if (objects.has(input.Key) && input.IfNoneMatch === '*')
      throw Object.assign(new Error('PreconditionFailed'), {
        name: 'PreconditionFailed',
        $metadata: { httpStatusCode: 412 },
      });
    objects.set(input.Key, input.Body);
    return {};
  });
  s3Mock.on(ListObjectsV2Command).callsFake(async (input: { Prefix: string }) => ({
    Contents: [...objects.keys()].filter((k) => k.startsWith(input.Prefix)).map((Key) => ({ Key })),
    IsTruncated: false,
  }));
  s3Mock.on(GetObjectCommand).callsFake(async (input: { Key: string }) => ({
    Body: { transformToString: async () => objects.get(input.Key) as string },
  }));
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

let seq = 0;
const record = (
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
  row: Partial<EventRow> & { pk: string; sk: number },
): DynamoDBRecord => ({
  eventID: `ev-${++seq}`,
  eventName,
  eventSource: 'aws:dynamodb',
  dynamodb: {
    Keys: marshall({ pk: row.pk, sk: row.sk }) as never,
    ...(eventName !== 'REMOVE' ? { NewImage: marshall(row, { removeUndefinedValues: true }) as never } : {}),
    SequenceNumber: String(seq).padStart(21, '0'),
    ApproximateCreationDateTime: 1_764_000_000,
  },
});

/** Appends n events to a fresh pair, and streams them to the archive as DynamoDB Streams would. */
async function appended(agentId: string, n: number): Promise<EventRow[]> {
  const pk = pairKey('alice', agentId);
  const log = new EventLog(dynamo.doc, dynamo.tables.events, pk, chain);
  for (let i = 1; i <= n; i += 1)
    await log.append({ type: 'reply', requestId: `req-${i}`, data: { sealed: `cubicle-sealed:v1:${i}` } });
  const rows = await readEvents(dynamo.doc, dynamo.tables.events, pk);
  expect(
    await archiveRecords(
      deps,
      rows.map((row) => record('INSERT', row)),
    ),
  ).toBeUndefined();
  return rows;
}

const verify = (agentId: string) =>
  verifyPair({
    doc: dynamo.doc,
    table: dynamo.tables.events,
    key: chain,
    userId: 'alice',
    agentId,
    archive: s3Archive(s3, BUCKET),
  });

describe('the Events stream consumer', () => {
  it('archives each INSERT once, as stored, with a SHA-256 checksum and If-None-Match; a redelivered batch is a no-op', async () => {
    const rows = await appended('archived', 2);
    const puts = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts).toEqual(
      rows.map((row) =>
        expect.objectContaining({
          Bucket: BUCKET,
          Key: archiveKey(row.pk, row.sk),
          ChecksumAlgorithm: 'SHA256',
          IfNoneMatch: '*',
        }),
      ),
    );
    expect(archiveKey(rows[0].pk, 1)).toBe('events/alice/archived/000000000001.json');
    expect(
      await archiveRecords(
        deps,
        rows.map((row) => record('INSERT', row)),
      ),
    ).toBeUndefined();
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
  });

  it('falls back to a plain put when S3 refuses the condition (501): a second locked version of the same bytes', async () => {
    const pk = pairKey('alice', 'unconditional');
    s3Mock.on(PutObjectCommand).callsFake(async (input: { Key: string; Body: string; IfNoneMatch?: string }) => {
      if (input.IfNoneMatch)
        throw Object.assign(new Error('NotImplemented'), {
          name: 'NotImplemented',
          $metadata: { httpStatusCode: 501 },
        });
      objects.set(input.Key, input.Body);
      return {};
    });
    const row = { pk, sk: 1, type: 'reply', at: 1, requestId: 'r', data: {}, prevHash: GENESIS_HASH, hash: 'h' };
    expect(await archiveRecords(deps, [record('INSERT', row)])).toBeUndefined();
    expect(JSON.parse(objects.get(archiveKey(pk, 1)) as string)).toEqual(row);
  });

  it('raises a security event for every MODIFY and REMOVE of an event row, naming the row', async () => {
    const [row] = await appended('tampered', 1);
    expect(
      await archiveRecords(deps, [
        record('MODIFY', { ...row, data: { text: 'forged' } }),
        record('REMOVE', { pk: row.pk, sk: row.sk }),
      ]),
    ).toBeUndefined();
    const messages = snsMock.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(messages.map((m) => m.TopicArn)).toEqual([TOPIC, TOPIC]);
    expect(messages.map((m) => JSON.parse(m.Message as string))).toEqual([
      expect.objectContaining({ securityEvent: TAMPER_EVENTS.MODIFY, pk: row.pk, sk: 1 }),
      expect.objectContaining({ securityEvent: TAMPER_EVENTS.REMOVE, pk: row.pk, sk: 1 }),
    ]);
    expect(warnings.map((w) => w.security_event)).toEqual([TAMPER_EVENTS.MODIFY, TAMPER_EVENTS.REMOVE]);
    // Nothing of a rewritten row reaches the archive: the locked copy stays the original.
    expect(JSON.parse(objects.get(archiveKey(row.pk, 1)) as string).data).toEqual(row.data);
  });

  it('reports the first record it could not archive, so the stream retries from there', async () => {
    const rows = await appended('retried', 2);
    s3Mock
      .on(PutObjectCommand)
      .rejects(Object.assign(new Error('SlowDown'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }));
    const batch = rows.map((row) => record('INSERT', { ...row, pk: pairKey('alice', 'retried2') }));
    expect(await archiveRecords(deps, batch)).toBe(batch[0].dynamodb?.SequenceNumber);
  });
});

describe('audit:verify', () => {
  it('passes an intact, archived chain', async () => {
    await appended('intact', 4);
    expect(await verify('intact')).toEqual({ ok: true, length: 4, archived: 4, firstBreak: undefined, unarchived: [] });
  });

  it('names a rewritten row (its MAC, and its archived copy)', async () => {
    const rows = await appended('rewritten', 4);
    await dynamo.seed.send(
      new PutCommand({
        TableName: dynamo.tables.events,
        Item: { ...rows[2], data: { text: 'nothing happened here' } },
      }),
    );
    expect((await verify('rewritten')).firstBreak).toEqual({
      sk: 3,
      reason: "hash is not the chain key's MAC of the row",
    });
  });

  it('names a deleted row: in the middle (a gap), and the last one (only the archive knows it)', async () => {
    const rows = await appended('deleted', 4);
    await dynamo.doc.send(new DeleteCommand({ TableName: dynamo.tables.events, Key: { pk: rows[1].pk, sk: 2 } }));
    expect((await verify('deleted')).firstBreak).toEqual({
      sk: 2,
      reason: 'archived, but missing from the table (deleted)',
    });
    const tail = await appended('tail', 3);
    await dynamo.doc.send(new DeleteCommand({ TableName: dynamo.tables.events, Key: { pk: tail[2].pk, sk: 3 } }));
    expect((await verify('tail')).firstBreak).toEqual({
      sk: 3,
      reason: 'archived, but missing from the table (deleted)',
    });
    // Without the archive, the chain alone still names the gap in the middle.
    expect(
      (
        await verifyPair({
          doc: dynamo.doc,
          table: dynamo.tables.events,
          key: chain,
          userId: 'alice',
          agentId: 'deleted',
        })
      ).firstBreak,
    ).toMatchObject({ sk: 3, reason: expect.stringMatching(/missing/) });
  });

  it('names a chain re-hashed with SHA-256 without the key, even one consistent from the first row', async () => {
    const rows = await appended('rehashed', 3);
    let prev = GENESIS_HASH;
    for (const { hash: _hash, ...row } of rows) {
      const base = { ...row, data: { text: 'rewritten history' }, prevHash: prev };
      prev = createHash('sha256').update(eventDigest(base)).digest('hex');
      await dynamo.seed.send(new PutCommand({ TableName: dynamo.tables.events, Item: { ...base, hash: prev } }));
    }
    const verdict = await verifyPair({
      doc: dynamo.doc,
      table: dynamo.tables.events,
      key: chain,
      userId: 'alice',
      agentId: 'rehashed',
    });
    expect(verdict.firstBreak).toEqual({ sk: 1, reason: "hash is not the chain key's MAC of the row" });
  });

  it('the CLI names the first break and exits 1; an intact pair exits 0; missing arguments exit 2', async () => {
    await appended('cli', 2);
    const rows = await readEvents(dynamo.doc, dynamo.tables.events, pairKey('alice', 'cli'));
    await dynamo.seed.send(
      new PutCommand({ TableName: dynamo.tables.events, Item: { ...rows[1], at: rows[1].at + 1 } }),
    );
    const lines: string[] = [];
    const clients = () => ({ doc: dynamo.doc, kms: kms.client, s3 }) as never;
    const args = (agent: string) => [
      '--user',
      'alice',
      '--agent',
      agent,
      '--table',
      dynamo.tables.events,
      '--chain-key',
      KEY_ARN,
      '--bucket',
      BUCKET,
    ];
    expect(await main(args('cli'), clients, (l) => lines.push(l))).toBe(1);
    expect(lines.at(-1)).toBe(
      "alice/cli: BROKEN at sequence 2: hash is not the chain key's MAC of the row (2 rows in the table, 2 archived copies)",
    );
    await appended('cli-ok', 2);
    expect(await main(args('cli-ok'), clients, (l) => lines.push(l))).toBe(0);
    expect(lines.at(-1)).toMatch(
      /^alice\/cli-ok: intact: 2 events, every MAC verified under the chain key, 2 archived copies match$/,
    );
    expect(await main(['--user', 'alice'], clients, (l) => lines.push(l))).toBe(2);
  });
});
