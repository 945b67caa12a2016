import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface RetainedKeyProps {
  readonly description: string;
  /** Alias without the `alias/` prefix; default: none. */
  readonly alias?: string;
}

/**
 * A customer-managed KMS key as every Cubicle key must be: rotation on, retained on stack deletion,
 * and grants creatable only by AWS services acting on AWS resources (Control Tower CT.KMS.PR.3), so
 * nobody can hand out durable decrypt rights with CreateGrant.
 * https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource
 */
export function createRetainedKey(scope: Construct, id: string, props: RetainedKeyProps): kms.Key {
  const key = new kms.Key(scope, id, {
    description: props.description,
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.RETAIN,
    alias: props.alias,
  });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyGrantsExceptForAwsServices',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: {
        BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
      },
    }),
  );
  return key;
}
