import type { RecordSealer } from '../../shared/envelope';
import { deferred } from './lazy';

/**
 * The sealer over the deployment's user keys, resolved by their aliases (runtime/shared/envelope.ts). Its KMS client
 * and the Encryption SDK load on the first seal or open, so a call that touches no record (a refused connect, a
 * fan-out nobody listens to) does not load them before its first request (issue 15).
 */
export function deferredSealer(deployment: string): Pick<RecordSealer, 'seal' | 'open' | 'sealData' | 'openData'> {
  return deferred(async () => {
    const [{ kmsClient, userKeyArns }, { RecordSealer }] = await Promise.all([
      import('../aws/kms.js'),
      import('../../shared/envelope.js'),
    ]);
    const kms = kmsClient();
    return new RecordSealer(kms, userKeyArns(kms, deployment));
  }, ['seal', 'open', 'sealData', 'openData']);
}
