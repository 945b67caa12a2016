/**
 * The relay's frame authentication between a runtime and the control plane: HMAC-SHA256 under the task's
 * nonce (32 random bytes, claimed once) over the direction, the connection id, the sequence number and
 * the exact payload text. Binding the connection id stops a frame from being replayed on another
 * connection; the sequence number (checked by the receiver) stops replays and reordering on the same one;
 * the direction stops a relay frame from being reflected back as a runtime frame. node:crypto's
 * createHmac and timingSafeEqual do the cryptography.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const NONCE_BYTES = 32;
export type Direction = 'runtime' | 'relay';

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

export function frameMac(
  nonce: Buffer,
  direction: Direction,
  connectionId: string,
  seq: number,
  payload: string,
): string {
  if (nonce.length !== NONCE_BYTES) throw new Error('the nonce must be 32 bytes');
  return createHmac('sha256', nonce)
    .update(`cubicle.v1\n${direction}\n${connectionId}\n${seq}\n`)
    .update(payload, 'utf8')
    .digest('base64url');
}

/** Constant-time comparison of a presented MAC with the expected one. */
export function macMatches(
  nonce: Buffer,
  direction: Direction,
  connectionId: string,
  seq: number,
  payload: string,
  presented: string,
): boolean {
  const expected = Buffer.from(frameMac(nonce, direction, connectionId, seq, payload), 'base64url');
  const got = Buffer.from(presented, 'base64url');
  return got.length === expected.length && timingSafeEqual(got, expected);
}
