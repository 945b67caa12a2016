import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacChainKey, kmsChainKey } from '../../../runtime/shared/chain-key';
import {
  canonicalJson,
  eventDigest,
  eventHash,
  GENESIS_HASH,
  verifyChain,
  type ChainKey,
} from '../../../runtime/shared/event-chain';
import type { EventRow } from '../../../runtime/shared/rows';
import { fakeKms } from '../../support/fake-kms';

/**
 * The audit chain is keyed (docs/isolation-claims.md claim 8): every row's hash is the chain key's MAC, so
 * an edited, deleted or reordered row breaks it, and so does a chain someone recomputed without the key.
 */

const key = hmacChainKey(randomBytes(32));

async function chain(n: number, k: Pick<ChainKey, 'mac'> = key): Promise<EventRow[]> {
  const rows: EventRow[] = [];
  let prev = GENESIS_HASH;
  for (let sk = 1; sk <= n; sk += 1) {
    const base = {
      pk: 'alice#sales',
      sk,
      type: 'reply',
      at: 1_000 + sk,
      requestId: 'req-1',
      messageId: 'm',
      data: { text: `r${sk}`, n: { b: 1, a: [2, 3] } },
      prevHash: prev,
    };
    const row = { ...base, hash: await eventHash(k, base) };
    rows.push(row);
    prev = row.hash;
  }
  return rows;
}

/** What someone with write access but no key can do: recompute every hash with plain SHA-256. */
function rehashedWithoutKey(rows: EventRow[]): EventRow[] {
  let prev = GENESIS_HASH;
  return rows.map(({ hash: _hash, ...row }) => {
    const base = { ...row, prevHash: prev };
    prev = createHash('sha256').update(eventDigest(base)).digest('hex');
    return { ...base, hash: prev };
  });
}

describe('keyed event chain', () => {
  it('verifies an intact chain and hashes independently of key order', async () => {
    expect(await verifyChain(await chain(5), key)).toEqual({ ok: true, length: 5 });
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('names a rewritten row', async () => {
    const rows = await chain(4);
    rows[2] = { ...rows[2], data: { text: 'forged' } };
    expect(await verifyChain(rows, key)).toEqual({
      ok: false,
      sk: 3,
      reason: "hash is not the chain key's MAC of the row",
    });
  });

  it('names a deleted row', async () => {
    const rows = await chain(4);
    rows.splice(1, 1);
    expect(await verifyChain(rows, key)).toMatchObject({
      ok: false,
      sk: 3,
      reason: 'expected sequence 2: a row is missing',
    });
  });

  it('names a reordered row', async () => {
    const rows = await chain(3);
    [rows[0], rows[1]] = [rows[1], rows[0]];
    expect(await verifyChain(rows, key)).toMatchObject({ ok: false, sk: 2 });
  });

  it('detects a chain recomputed with SHA-256 without the key, even a consistent one, and one under another key', async () => {
    const rows = await chain(4);
    rows[1] = { ...rows[1], data: { text: 'forged' } };
    const rehashed = rehashedWithoutKey(rows);
    // Internally consistent (each prevHash is the previous hash), but no hash is the chain key's MAC.
    expect(rehashed.every((r, i) => r.prevHash === (i === 0 ? GENESIS_HASH : rehashed[i - 1].hash))).toBe(true);
    expect(await verifyChain(rehashed, key)).toEqual({
      ok: false,
      sk: 1,
      reason: "hash is not the chain key's MAC of the row",
    });
    expect(await verifyChain(await chain(3, hmacChainKey(randomBytes(32))), key)).toMatchObject({ ok: false, sk: 1 });
  });

  it('runs on a KMS HMAC key: GenerateMac to append, VerifyMac (KMSInvalidMacException) to verify', async () => {
    const kms = fakeKms();
    const arn = kms.createKey('chain');
    const chainKey = kmsChainKey(kms.client, arn);
    const rows = await chain(3, chainKey);
    expect(await verifyChain(rows, chainKey)).toEqual({ ok: true, length: 3 });
    expect(await verifyChain(rehashedWithoutKey(rows), chainKey)).toMatchObject({ ok: false, sk: 1 });
    expect(await chainKey.verify(eventDigest(rows[0]), 'not hex')).toBe(false);
  });
});
