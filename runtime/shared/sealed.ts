/**
 * The shape of sealed records, shared by the envelope (runtime/shared/envelope.ts) and the user keys'
 * policies (lib/constructs/user-vault.ts), which name the encryption context keys. No crypto here, so the
 * CDK app imports it without loading the Encryption SDK.
 */

/** Prefix of every sealed value: the format version, then the Encryption SDK message in base64. */
export const SEALED_PREFIX = 'cubicle-sealed:v1:';

/**
 * The sealed fields: inbox bodies, runtime events' data, approval summaries (runtime/shared/sealed-rows.ts),
 * an employee's decision on an approval (only a function acting for the verified employee can seal one, so a
 * decision written into the table by anyone else is no decision), and a session's relay nonce (which would
 * let whoever reads it sign frames to the runtime).
 */
export const SEALED_RECORDS = [
  'inbox.body',
  'event.data',
  'approval.summary',
  'approval.decision',
  'relay.nonce',
] as const;
export type SealedRecord = (typeof SEALED_RECORDS)[number];

/** Encryption context keys; the user keys' policies name them (kms:EncryptionContext:<key>). */
export const CONTEXT_KEYS = { user: 'user_id', agent: 'agent_id', record: 'record' } as const;

export interface RecordContext {
  readonly userId: string;
  readonly agentId: string;
  readonly record: SealedRecord;
}

export function encryptionContext(ctx: RecordContext): Record<string, string> {
  return { [CONTEXT_KEYS.user]: ctx.userId, [CONTEXT_KEYS.agent]: ctx.agentId, [CONTEXT_KEYS.record]: ctx.record };
}

export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(SEALED_PREFIX);
}

/**
 * A value that is not sealed, not under the user's key, or sealed for another context. Here, not beside
 * the sealer: code that only reads rows (the fan-out) names it without loading the KMS client.
 */
export class SealError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealError';
  }
}
