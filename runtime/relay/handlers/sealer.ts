import type { RecordSealer } from '../../shared/envelope';

/**
 * The relay's sealer over the user keys (resolved by the deployment's aliases), loaded with the handler's
 * other clients so a cold start that never touches a record does not pay for the Encryption SDK.
 */
export async function loadSealer(deployment: string): Promise<RecordSealer> {
  const [{ kmsClient, userKeyArns }, { RecordSealer }] = await Promise.all([
    import('../../control-plane/aws/kms.js'),
    import('../../shared/envelope.js'),
  ]);
  const kms = kmsClient();
  return new RecordSealer(kms, userKeyArns(kms, deployment));
}
