/**
 * Opens this pair's sealed inbox bodies (runtime/shared/envelope.ts): the AWS Encryption SDK and the KMS
 * client, the heaviest part of the supervisor. It is its own bundle beside the supervisor's
 * (runtime/agent/build.ts LAZY_BUNDLES), loaded after "ready" (supervisor.ts warms it in the background)
 * or by the first message if that comes first, so a task's start never waits for it.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { RecordSealer } from '../../shared/envelope';
import type { InboxRow } from '../../shared/rows';
import { openInboxBody, type InboxContent } from '../../shared/sealed-rows';

export type InboxOpener = (row: InboxRow) => Promise<Omit<InboxContent, 'messageId'>>;

/**
 * The opener of one pair's inbox under the user's key (the task definition names it); the Encryption
 * SDK is loaded here, before the first message needs it.
 */
export async function inboxOpener(
  pair: { readonly userId: string; readonly agentId: string },
  userKeyArn: string,
): Promise<InboxOpener> {
  const sealer = new RecordSealer(new KMSClient({ maxAttempts: 5 }), async () => userKeyArn);
  await sealer.load();
  return (row) => openInboxBody(sealer, pair, row);
}
