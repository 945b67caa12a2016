import { IResolvable, IResolveContext, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface RetainedKeyProps {
  readonly description: string;
  /** Alias without the `alias/` prefix; default: none. */
  readonly alias?: string;
  /**
   * Whether IAM policies in the account may grant use of the key (AWS's default key policy: the account
   * root may do `kms:*`). With false, the account keeps only administration (KEY_ADMIN_ACTIONS), so
   * nobody uses the key unless a statement of the key policy itself names them.
   * @default true
   */
  readonly iamGrantsUse?: boolean;
  /**
   * An HMAC_256 key (GenerateMac/VerifyMac) instead of a symmetric encryption key. KMS rotates only
   * symmetric encryption keys automatically, so an HMAC key has rotation off.
   * https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html
   * @default false
   */
  readonly hmac?: boolean;
}

/** Key administration for the account (IAM decides who), without any use of the key for data. */
export const KEY_ADMIN_ACTIONS = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListAliases',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:RetireGrant',
  'kms:RevokeGrant',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
] as const;

/**
 * A customer-managed KMS key as every Cubicle key must be: rotation on, retained on stack deletion,
 * and grants creatable only by AWS services acting on AWS resources (Control Tower CT.KMS.PR.3), so
 * nobody can hand out durable decrypt rights with CreateGrant.
 * https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource
 */
export function createRetainedKey(scope: Construct, id: string, props: RetainedKeyProps): kms.Key {
  const key = new kms.Key(scope, id, {
    description: props.description,
    enableKeyRotation: props.hmac !== true,
    ...(props.hmac === true ? { keySpec: kms.KeySpec.HMAC_256, keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC } : {}),
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
  if (props.iamGrantsUse === false) withoutIamGrantedUse(key);
  return key;
}

/**
 * kms.Key always adds "account root may do kms:*" when the defaultKeyPolicies flag is on, whatever
 * `policy` is given; the statement is dropped at render time (the only one without a Sid: every
 * statement added here and by callers has one) and replaced by administration only, so the key cannot be locked out.
 */
function withoutIamGrantedUse(key: kms.Key): void {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AccountAdministersButNeverUsesTheKey',
      principals: [new iam.AccountRootPrincipal()],
      actions: [...KEY_ADMIN_ACTIONS],
      resources: ['*'],
    }),
  );
  const cfnKey = key.node.defaultChild as kms.CfnKey;
  cfnKey.keyPolicy = new WithoutAccountRootFullAccess(cfnKey.keyPolicy as iam.PolicyDocument);
}

interface RenderedStatement {
  Sid?: string;
  Effect?: string;
  Action?: unknown;
}

class WithoutAccountRootFullAccess implements IResolvable {
  readonly creationStack: string[] = [];
  constructor(private readonly document: iam.PolicyDocument) {}

  resolve(context: IResolveContext): unknown {
    const rendered = this.document.resolve(context) as { Statement: RenderedStatement[] };
    // The principal may still be an unresolved token here; CDK's statement is the only Sid-less `kms:*`.
    const isRootFullAccess = (s: RenderedStatement) =>
      s.Sid === undefined && s.Effect === 'Allow' && s.Action === 'kms:*';
    return { ...rendered, Statement: rendered.Statement.filter((s) => !isRootFullAccess(s)) };
  }

  toString(): string {
    return Token.asString(this);
  }
}
