/**
 * The chain key (event-chain.ts) in AWS: a KMS HMAC_256 key. GenerateMac is allowed only to the control
 * plane's event appenders and VerifyMac to verifiers (lib/constructs/audit-archive.ts), so the key material
 * never leaves KMS and no runtime can compute a valid row.
 * https://docs.aws.amazon.com/kms/latest/developerguide/hmac.html
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { ChainKey } from './event-chain';

/** The variable naming the chain key's ARN, set with its grant (lib/constructs/audit-archive.ts). */
export const CHAIN_KEY_ENV = 'CUBICLE_CHAIN_KEY_ARN';
export const MAC_ALGORITHM = 'HMAC_SHA_256';

/**
 * Deferred: env.ts imports this file for CHAIN_KEY_ENV at every function's cold start, and the KMS
 * commands would otherwise initialise the whole KMS client package there (~50 ms).
 */
const commands = () => import('@aws-sdk/client-kms');

export function kmsChainKey(kms: KMSClient, keyId: string): ChainKey {
  return {
    async mac(digest) {
      const { GenerateMacCommand } = await commands();
      const out = await kms.send(
        new GenerateMacCommand({ KeyId: keyId, MacAlgorithm: MAC_ALGORITHM, Message: digest }),
      );
      if (!out.Mac) throw new Error('GenerateMac returned no MAC');
      return Buffer.from(out.Mac).toString('hex');
    },
    async verify(digest, mac) {
      if (!/^[0-9a-f]{64}$/.test(mac)) return false;
      const { VerifyMacCommand } = await commands();
      try {
        const out = await kms.send(
          new VerifyMacCommand({
            KeyId: keyId,
            MacAlgorithm: MAC_ALGORITHM,
            Message: digest,
            Mac: Buffer.from(mac, 'hex'),
          }),
        );
        return out.MacValid === true;
      } catch (error) {
        // KMS answers an invalid MAC with an exception, not MacValid: false.
        if ((error as Error).name === 'KMSInvalidMacException') return false;
        throw error;
      }
    },
  };
}

/** HMAC-SHA256 under key material held in memory: what KMS computes, for local mode's stand-in and tests. */
export function hmacChainKey(secret: Buffer): ChainKey {
  const mac = (digest: Buffer) => createHmac('sha256', secret).update(digest).digest();
  return {
    mac: async (digest) => mac(digest).toString('hex'),
    verify: async (digest, given) =>
      /^[0-9a-f]{64}$/.test(given) && timingSafeEqual(mac(digest), Buffer.from(given, 'hex')),
  };
}
