/**
 * The per-pair audit chain (docs/isolation-claims.md claim 8): each Events row carries `hash`, an
 * HMAC-SHA256 under the chain key of the row's digest (which includes the previous row's `hash`), so a
 * deleted, reordered or edited row breaks verification, and so does a chain recomputed without the key
 * (plain SHA-256, or HMAC under another key). The chain key is a KMS HMAC key (chain-key.ts) that only the
 * control plane's event appenders may GenerateMac with and a verifier may VerifyMac with; the runtime
 * never holds it. Rows are also archived under S3 Object Lock as they are inserted (the audit archive).
 */
import { createHash } from 'node:crypto';
import type { EventRow } from './rows';

export const GENESIS_HASH = '0'.repeat(64);

/** MACs under the chain key; what appenders (mac) and verifiers (verify) are given. */
export interface ChainKey {
  /** HMAC-SHA256 of `digest` under the chain key, as 64 hex characters. */
  mac(digest: Buffer): Promise<string>;
  /** Whether `mac` is the chain key's MAC of `digest`. */
  verify(digest: Buffer, mac: string): Promise<boolean>;
}

/** JSON with object keys sorted at every level: the same value always hashes the same way. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('non-finite number in event');
    if (value === undefined) return 'null';
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * SHA-256 of the row's fields (everything but `hash`). The MAC is taken over this digest: KMS GenerateMac
 * takes at most 4 KB, and an event's data may be larger.
 */
export function eventDigest(event: Omit<EventRow, 'hash'>): Buffer {
  const { pk, sk, type, at, requestId, messageId, data, prevHash } = event;
  return createHash('sha256')
    .update(canonicalJson({ pk, sk, type, at, requestId, messageId, data, prevHash }))
    .digest();
}

export function eventHash(key: Pick<ChainKey, 'mac'>, event: Omit<EventRow, 'hash'>): Promise<string> {
  return key.mac(eventDigest(event));
}

export type ChainVerdict = { ok: true; length: number } | { ok: false; sk: number; reason: string };

/** Verifies rows of one pair, read in sk order from sk = 1; names the first break. */
export async function verifyChain(rows: readonly EventRow[], key: Pick<ChainKey, 'verify'>): Promise<ChainVerdict> {
  let prev = GENESIS_HASH;
  for (let i = 0; i < rows.length; i += 1) {
    const row = rows[i];
    if (row.sk !== i + 1) return { ok: false, sk: row.sk, reason: `expected sequence ${i + 1}: a row is missing` };
    if (row.pk !== rows[0].pk) return { ok: false, sk: row.sk, reason: 'partition changed' };
    if (row.prevHash !== prev) return { ok: false, sk: row.sk, reason: 'prevHash does not match the previous row' };
    if (!(await key.verify(eventDigest(row), row.hash)))
      return { ok: false, sk: row.sk, reason: "hash is not the chain key's MAC of the row" };
    prev = row.hash;
  }
  return { ok: true, length: rows.length };
}
