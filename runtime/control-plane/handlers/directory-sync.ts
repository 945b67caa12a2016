import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { type CustomResourceOutcome, sendResponse } from '../custom-resource';
import { loadRosterFile } from '../roster';
import { functionLogger } from './logger';

const roster = loadRosterFile();
/** Kept back from the function's time limit to report to CloudFormation before Lambda stops the run. */
const MARGIN_MS = 30_000;

/**
 * The `Custom::CubicleDirectorySync` resource (lib/constructs/directory-sync.ts): Create and Update sync
 * the pool to the bundled roster; Delete keeps every user (the pool itself is retained). Always answers
 * CloudFormation, or the stack would wait an hour for this resource.
 */
export async function handler(event: CloudFormationCustomResourceEvent, context: Context): Promise<void> {
  const logger = await functionLogger();
  logger.addContext(context);
  const userPoolId = String(event.ResourceProperties.UserPoolId ?? '');
  const physicalResourceId = `directory-sync-${userPoolId}`;
  let outcome: CustomResourceOutcome;
  try {
    if (!/^[\w-]+_[0-9a-zA-Z]+$/.test(userPoolId)) throw new Error('UserPoolId is not a Cognito user pool id');
    if (event.RequestType === 'Delete') {
      outcome = { status: 'SUCCESS', physicalResourceId: event.PhysicalResourceId };
    } else {
      const users = roster.directory.users.map((u) => ({ id: u.id, email: u.email }));
      // The Cognito client loads only when there is work (a Delete needs none).
      const [{ cognitoClient }, { syncDirectory }] = await Promise.all([
        import('../aws/cognito.js'),
        import('../directory-sync.js'),
      ]);
      const result = await syncDirectory(cognitoClient(), users, {
        userPoolId,
        deadline: Date.now() + context.getRemainingTimeInMillis() - MARGIN_MS,
      });
      const counts = {
        Created: result.created.length,
        EmailUpdated: result.emailUpdated.length,
        Enabled: result.enabled.length,
        Disabled: result.disabled.length,
        Unchanged: result.unchanged,
      };
      // User ids only: emails stay out of the logs.
      logger.info('directory synced', {
        ...counts,
        created: result.created,
        emailUpdated: result.emailUpdated,
        enabled: result.enabled,
        disabled: result.disabled,
      });
      outcome = { status: 'SUCCESS', physicalResourceId, data: counts };
    }
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : 'directory sync failed';
    logger.error('directory sync failed', { reason });
    outcome = {
      status: 'FAILED',
      physicalResourceId: event.RequestType === 'Create' ? physicalResourceId : event.PhysicalResourceId,
      reason,
    };
  }
  await sendResponse(event, outcome);
}
