import { createHash } from 'node:crypto';
import { CustomResource, Duration, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CubicleConfig } from '../config/schema';
import { CubicleFunction } from './cubicle-function';
import { FunctionBase } from './employee-api';

export interface DirectorySyncProps {
  readonly base: FunctionBase;
  readonly config: CubicleConfig;
  readonly userPool: cognito.IUserPool;
  /** The roster directory file (lib/constructs/control-plane-roster.ts), bundled as roster.json. */
  readonly rosterFile: string;
}

/** What the sync may do to the pool: no delete, nothing to passwords or MFA. */
export const DIRECTORY_SYNC_ACTIONS = [
  'cognito-idp:AdminCreateUser',
  'cognito-idp:AdminDisableUser',
  'cognito-idp:AdminEnableUser',
  'cognito-idp:AdminUpdateUserAttributes',
  'cognito-idp:AdminUserGlobalSignOut',
  'cognito-idp:ListUsers',
] as const;

/** The custom resource's type name in the template. */
export const DIRECTORY_SYNC_TYPE = 'Custom::CubicleDirectorySync';

/**
 * The roster's identities (id and email, sorted): the custom resource's input. A change of user or email
 * changes it, and CloudFormation runs the sync; changes to agents alone do not.
 */
export function rosterIdentityDigest(config: CubicleConfig): string {
  const identities = config.users.map((u) => `${u.id}\t${u.email.toLowerCase()}`).sort();
  return createHash('sha256').update(identities.join('\n')).digest('hex');
}

/**
 * Keeps the default Cognito user pool equal to the roster with one function and one custom resource,
 * whatever the roster's size (runtime/control-plane/directory-sync.ts says what each difference leads
 * to). The function reads the roster bundled beside it; the custom resource carries only its digest,
 * so the ControlPlane stack's size does not grow with the roster.
 */
export class DirectorySync extends Construct {
  readonly function: CubicleFunction;
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: DirectorySyncProps) {
    super(scope, id);
    this.function = new CubicleFunction(this, 'Function', {
      ...props.base,
      handler: 'directory-sync',
      description: "directory sync: the roster's users into the Cognito user pool",
      rosterFile: props.rosterFile,
      // Lambda's maximum: a first deploy of thousands of users is rate-limited by Cognito's quotas.
      timeout: Duration.minutes(15),
    });
    this.function.allow(
      new iam.PolicyStatement({ actions: [...DIRECTORY_SYNC_ACTIONS], resources: [props.userPool.userPoolArn] }),
    );
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.function.function.functionArn,
      resourceType: DIRECTORY_SYNC_TYPE,
      properties: { UserPoolId: props.userPool.userPoolId, RosterIdentities: rosterIdentityDigest(props.config) },
      // Longer than the function may run, so CloudFormation always hears the function's own answer.
      serviceTimeout: Duration.minutes(20),
    });
    Validations.of(this.function).acknowledge({
      id: 'NIST.800.53.R5-LambdaDLQ',
      reason:
        'Invoked synchronously by CloudFormation (a custom resource), which reports a failure as a failed deploy; the sync is idempotent and the next deploy repeats it.',
    });
  }
}
