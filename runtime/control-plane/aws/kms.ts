import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { kmsChainKey } from '../../shared/chain-key';
import type { ChainKey } from '../../shared/event-chain';
import type { KeyArnOf } from '../../shared/envelope';
import { userKeyAlias } from '../../shared/names';
import { traced } from './tracing';

export function kmsClient(): KMSClient {
  return traced(new KMSClient({}));
}

/** How long a resolved alias is trusted before it is read again. */
export const KEY_ARN_TTL_MS = 15 * 60_000;

/**
 * A user's key ARN from the alias the fleet gives it (`alias/cubicle/<name>/<user>`), resolved with
 * DescribeKey and cached. The control plane cannot know the fleet's key ids at synth (the keys live in
 * other stacks, deployed independently). Re-pointing an alias is a key-administration action: CloudTrail
 * records it and the security-event rule raises it (lib/constructs/security-events.ts).
 */
export function userKeyArns(kms: KMSClient, deployment: string, now: () => number = Date.now): KeyArnOf {
  const cache = new Map<string, { arn: Promise<string>; at: number }>();
  return (userId) => {
    const hit = cache.get(userId);
    if (hit && now() - hit.at < KEY_ARN_TTL_MS) return hit.arn;
    const arn = kms.send(new DescribeKeyCommand({ KeyId: userKeyAlias(deployment, userId) })).then((out) => {
      const meta = out.KeyMetadata;
      if (!meta?.Arn || meta.KeyManager !== 'CUSTOMER' || meta.KeyState !== 'Enabled') {
        throw new Error(`the key of user ${userId} is not an enabled customer-managed key`);
      }
      return meta.Arn;
    });
    cache.set(userId, { arn, at: now() });
    arn.catch(() => cache.delete(userId));
    return arn;
  };
}

/** The audit chain's key (runtime/shared/chain-key.ts) through this process's KMS client. */
export function chainKey(keyArn: string, kms: KMSClient = kmsClient()): ChainKey {
  return kmsChainKey(kms, keyArn);
}
