import { IResolvable, IResolveContext, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { attributeWithinStack } from '../fleet/intrinsics';
import type { Conditions } from '../fleet/policy-json';

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
 * The statement every Cubicle key has (CT.KMS.PR.3): grants only by AWS services acting on AWS resources.
 * createRetainedKey and RetainedKeyJson both write it from here.
 */
const DENY_GRANTS = {
  sid: 'DenyGrantsExceptForAwsServices',
  actions: ['kms:CreateGrant'],
  condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
} as const;
/** The statement that replaces "account root may do kms:*" when IAM may not grant use (KEY_ADMIN_ACTIONS). */
const ADMINISTERS_WITHOUT_USE_SID = 'AccountAdministersButNeverUsesTheKey';

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
      sid: DENY_GRANTS.sid,
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: [...DENY_GRANTS.actions],
      resources: ['*'],
      conditions: DENY_GRANTS.condition,
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
      sid: ADMINISTERS_WITHOUT_USE_SID,
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

/** A key policy statement as CDK renders an iam.PolicyStatement in a key policy (these keys, in this order). */
export interface KeyStatementJson {
  readonly Action: string | string[];
  readonly Condition?: Conditions;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal: { readonly AWS: string };
  readonly Resource: '*';
  readonly Sid: string;
}

/** One statement of a key policy: actions sorted and a single one unwrapped, as iam.PolicyDocument renders them. */
export function keyStatement(
  sid: string,
  effect: 'Allow' | 'Deny',
  principal: string,
  actions: readonly string[],
  condition?: Conditions,
): KeyStatementJson {
  const sorted = [...new Set(actions)].sort();
  return {
    Action: sorted.length === 1 ? sorted[0] : sorted,
    ...(condition ? { Condition: condition } : {}),
    Effect: effect,
    Principal: { AWS: principal },
    Resource: '*',
    Sid: sid,
  };
}

/**
 * The key of createRetainedKey with `iamGrantsUse: false`, as L1 resources with its policy written as JSON
 * (lib/fleet/policy-json.ts explains why): one per roster user, where kms.Key's PolicyDocument (statement
 * objects, merging and normalizing passes at every resolution) was ~1.3 s of a 5,000-pair synth.
 * Construct ids are kms.Key's (`<id>/Resource`, `<id>/Alias/Resource`), so logical ids are the same.
 */
export class RetainedKeyJson extends Construct {
  readonly resource: kms.CfnKey;
  readonly keyArn: string;
  /** The account's root principal, as the policy's statements for the account name it. */
  readonly accountRootArn: string;
  private readonly statements: KeyStatementJson[];

  constructor(scope: Construct, id: string, props: Pick<RetainedKeyProps, 'description' | 'alias'>) {
    super(scope, id);
    this.accountRootArn = `arn:${Stack.of(this).partition}:iam::${Stack.of(this).account}:root`;
    // The statements createRetainedKey adds (CT.KMS.PR.3, and administration without use).
    this.statements = [
      keyStatement(DENY_GRANTS.sid, 'Deny', '*', DENY_GRANTS.actions, DENY_GRANTS.condition),
      keyStatement(ADMINISTERS_WITHOUT_USE_SID, 'Allow', this.accountRootArn, KEY_ADMIN_ACTIONS),
    ];
    this.resource = new kms.CfnKey(this, 'Resource', {
      description: props.description,
      enableKeyRotation: true,
      // Read at synth: statements added later are rendered too.
      keyPolicy: { Statement: this.statements, Version: '2012-10-17' },
    });
    this.resource.applyRemovalPolicy(RemovalPolicy.RETAIN);
    // Named by the user's secrets, policies and cells, in the same Fleet stack (lib/fleet/intrinsics.ts).
    this.keyArn = attributeWithinStack(this.resource, 'Arn');
    if (props.alias !== undefined) {
      new kms.CfnAlias(new Construct(this, 'Alias'), 'Resource', {
        aliasName: props.alias.startsWith('alias/') ? props.alias : `alias/${props.alias}`,
        targetKeyId: this.keyArn,
      });
    }
  }

  addStatement(statement: KeyStatementJson): void {
    if (this.statements.some((s) => s.Sid === statement.Sid))
      throw new Error(`${this.node.path}: two key policy statements with Sid "${statement.Sid}"`);
    this.statements.push(statement);
  }
}
