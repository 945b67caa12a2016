import type { ChainKey } from '../../shared/event-chain';
import { deferred } from './lazy';

/**
 * The audit chain's key (runtime/shared/chain-key.ts), whose KMS client loads on the first MAC: a call that appends
 * no event (a reaper tick with nothing to stop, a refused connect) does not load it before its first request
 * (issue 15). Not beside the sealer: a bundle that imports that file also holds the Encryption SDK, which uses more
 * of the DynamoDB client and so makes the chunk every first request loads bigger.
 */
export function deferredChainKey(keyArn: string): ChainKey {
  return deferred(async () => (await import('../aws/kms.js')).chainKey(keyArn), ['mac', 'verify']);
}
