/**
 * The per-pair audit chain: each Events row carries the hash of the row before it, so a deleted,
 * reordered or edited row breaks verification. Only the control plane appends (the relay on a runtime's
 * behalf); writers and verifiers compute hashes here.
 */
import { createHash } from 'node:crypto';
import type { EventRow } from './rows';

export const GENESIS_HASH = '0'.repeat(64);

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

export function eventHash(event: Omit<EventRow, 'hash'>): string {
  const { pk, sk, type, at, requestId, messageId, data, prevHash } = event;
  return createHash('sha256')
    .update(canonicalJson({ pk, sk, type, at, requestId, messageId, data, prevHash }))
    .digest('hex');
}

export type ChainVerdict = { ok: true; length: number } | { ok: false; sk: number; reason: string };

/** Verifies rows of one pair, read in sk order from sk = 1. */
export function verifyChain(rows: readonly EventRow[]): ChainVerdict {
  let prev = GENESIS_HASH;
  for (let i = 0; i < rows.length; i += 1) {
    const row = rows[i];
    if (row.sk !== i + 1) return { ok: false, sk: row.sk, reason: `expected sequence ${i + 1}` };
    if (row.pk !== rows[0].pk) return { ok: false, sk: row.sk, reason: 'partition changed' };
    if (row.prevHash !== prev) return { ok: false, sk: row.sk, reason: 'prevHash does not match the previous row' };
    if (eventHash(row) !== row.hash) return { ok: false, sk: row.sk, reason: 'hash does not match the row' };
    prev = row.hash;
  }
  return { ok: true, length: rows.length };
}
