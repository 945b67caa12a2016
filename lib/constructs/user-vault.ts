import { RemovalPolicy, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { secretNamePrefix, userKeyAlias } from '../../runtime/shared/names';
import { CubicleConfig, UserConfig } from '../config/schema';
import { vaultSecretConstructIds } from '../fleet/naming';
import { CONTEXT_KEYS } from '../../runtime/shared/sealed';
import {
  agentRoleArn,
  cloudFormationExecutionRoleArn,
  credentialWriterArn,
  recordOpenerArns,
  recordSealerArns,
  recordWriterArns,
} from '../fleet/principals';
import { attributeWithinStack, refWithinStack } from '../fleet/intrinsics';
import { denyEveryone, policy } from '../fleet/policy-json';
import { VaultSecretSpec, vaultSecrets } from '../fleet/vault-secrets';
import { compare } from '../util/order';
import { VAULT_PLACEHOLDER } from '../../runtime/shared/vault';
import { keyStatement, RetainedKeyJson } from './retained-key';

export { VAULT_PLACEHOLDER } from '../../runtime/shared/vault';

export interface UserVaultProps {
  readonly config: CubicleConfig;
  readonly user: UserConfig;
}

/** A vault secret as the user's agents see it. */
export interface VaultSecret {
  readonly spec: VaultSecretSpec;
  readonly secret: secretsmanager.CfnSecret;
  /** The secret's full ARN (`Ref`). */
  readonly arn: string;
}

/** A pair's task role as the vault names it: by ARN for readers, by unique id for the grant itself. */
export interface VaultReader {
  readonly agentId: string;
  readonly role: iam.CfnRole;
}

/**
 * One user's key and credentials (isolation claims 3 and 5, docs/isolation-claims.md): a KMS key and one secret per provider and per
 * connection-with-secret that the user's agents use.
 *
 * - The key policy has no `kms:*` for the account: the account may administer the key but not use it,
 *   so no IAM policy (not even AdministratorAccess) can grant Decrypt. The key is used by:
 *   - the agent roles that read a secret: Decrypt, only via Secrets Manager, only with that secret's ARN
 *     as encryption context;
 *   - each agent role: Decrypt of its own records (the inbox messages the control plane sealed for it,
 *     runtime/shared/envelope.ts), only with encryption context user_id = this user, agent_id = its agent;
 *   - the control plane's record sealers (lib/fleet/principals.ts): GenerateDataKey and Decrypt, only with
 *     user_id = this user and agent_id one of this user's agents;
 *   - the credential writers: Encrypt, only via Secrets Manager, only for this user's secrets.
 * - Agent roles are bound by their unique id (`aws:userid` = `<RoleId>:*`), not only their name: a role
 *   deleted and created again with the same name (or the same user id given to another person) has a new
 *   unique id and gets nothing from this key or these secrets. Those statements name the principal in
 *   their conditions with `Principal: *` and `aws:PrincipalAccount`, so the key's policy alone grants them
 *   (the roles' own policies cannot name the key: CloudFormation would see a cycle).
 * - Each secret's resource policy (retained, like the secret) denies GetSecretValue to every principal but
 *   its readers' unique ids, PutSecretValue to everyone but the credential writer, and UpdateSecret,
 *   PutResourcePolicy and DeleteResourcePolicy to everyone but CloudFormation's execution role: an account
 *   admin reads, replaces or unlocks no token without deploying a policy change, which CloudTrail records
 *   and the security-event rule raises.
 */
export class UserVault extends Construct {
  readonly key: RetainedKeyJson;
  /** By secret name. */
  readonly secrets: ReadonlyMap<string, VaultSecret>;
  private readonly config: CubicleConfig;
  private readonly user: UserConfig;
  private admitted = false;

  constructor(scope: Construct, id: string, props: UserVaultProps) {
    super(scope, id);
    const { config, user } = props;
    this.config = config;
    this.user = user;
    const stack = Stack.of(this);
    const specs = vaultSecrets(config, user);

    // No IAM policy in the account, AdministratorAccess included, can grant use: only the statements below.
    this.key = new RetainedKeyJson(this, 'Key', {
      description: `Cubicle: encrypts the credentials and records of user ${user.id}`,
      alias: userKeyAlias(config.name, user.id),
    });
    const account = this.key.accountRootArn;
    this.key.addStatement(
      keyStatement('CredentialWritersEncrypt', 'Allow', account, ['kms:Encrypt', 'kms:GenerateDataKey'], {
        ArnEquals: {
          'aws:PrincipalArn': [credentialWriterArn(this, config), cloudFormationExecutionRoleArn(this, config)],
        },
        StringEquals: { 'kms:ViaService': viaSecretsManager(stack) },
        ArnLike: {
          'kms:EncryptionContext:SecretARN': `${secretArnPattern(stack, config, `${secretNamePrefix(config.name)}${user.id}/`)}*`,
        },
      }),
    );
    const agentIds = user.agents.map((a) => a.id).sort(compare);
    const records = (sid: string, actions: string[], principalArns: string[]) =>
      keyStatement(sid, 'Allow', account, actions, {
        ArnEquals: { 'aws:PrincipalArn': principalArns },
        StringEquals: {
          [`kms:EncryptionContext:${CONTEXT_KEYS.user}`]: user.id,
          [`kms:EncryptionContext:${CONTEXT_KEYS.agent}`]: agentIds,
        },
        // Exactly the envelope's context keys: a request naming other keys (or none) is not a record.
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': Object.values(CONTEXT_KEYS) },
        Null: { 'kms:EncryptionContextKeys': 'false' },
      });
    this.key.addStatement(
      records(
        'ControlPlaneSealsAndOpensRecords',
        ['kms:Decrypt', 'kms:GenerateDataKey'],
        recordSealerArns(this, config),
      ),
    );
    // Scheduled runs post a schedule's text: a data key to seal with, never a Decrypt.
    this.key.addStatement(records('ScheduledRunsSealRecords', ['kms:GenerateDataKey'], recordWriterArns(this, config)));
    // The relay's device side and fan-out hand devices plaintext: they open, and never get a data key to seal with.
    this.key.addStatement(records('RelayOpensRecordsForDevices', ['kms:Decrypt'], recordOpenerArns(this, config)));

    const secrets = new Map<string, VaultSecret>();
    for (const spec of specs) {
      const secret = new secretsmanager.CfnSecret(this, vaultSecretConstructIds(spec.kind, spec.id).secret, {
        name: spec.name,
        description: `Cubicle: ${user.id}'s ${spec.kind} credential for ${spec.id} (read by ${spec.agentIds.join(', ')})`,
        kmsKeyId: this.key.keyArn,
        secretString: VAULT_PLACEHOLDER,
      });
      secret.applyRemovalPolicy(RemovalPolicy.RETAIN);
      secrets.set(spec.name, { spec, secret, arn: refWithinStack(secret) });
    }
    this.secrets = secrets;
    Tags.of(this).add('user_id', user.id);
    // Without admit() the secrets would have no resource policy, and the agents no grant.
    this.node.addValidation({
      validate: () =>
        this.admitted ? [] : [`the vault of ${user.id} never admitted its agents (call admit() with their roles)`],
    });
    // On the vault, so once per user rather than once per secret: it covers every secret above.
    const noRotation =
      'Provider and connector tokens are issued by third parties; Secrets Manager cannot rotate them. The employee replaces them through the control plane.';
    Validations.of(this).acknowledge(
      { id: 'AwsSolutions-SMG4', reason: noRotation },
      { id: 'NIST.800.53.R5-SecretsManagerRotationEnabled', reason: noRotation },
    );
  }

  /**
   * Grants the user's agent roles their secrets and records, by unique id: the key's statements and each
   * secret's resource policy. Called once, after the cells' roles exist.
   */
  admit(readers: readonly VaultReader[]): void {
    if (this.admitted) throw new Error(`the vault of ${this.user.id} admitted its agents already`);
    this.admitted = true;
    const { config, user } = this;
    const stack = Stack.of(this);
    const byAgent = new Map(readers.map((r) => [r.agentId, r]));
    const reader = (agentId: string) => {
      const found = byAgent.get(agentId);
      if (!found) throw new Error(`the vault of ${user.id} has no role for agent ${agentId}`);
      return found;
    };
    const boundTo = (agentIds: readonly string[]) => ({
      StringEquals: { 'aws:PrincipalAccount': config.account },
      ArnEquals: { 'aws:PrincipalArn': agentIds.map((agentId) => agentRoleArn(this, config, user.id, agentId)) },
      // The unique id of the role that exists now: a role created again under the same name is another principal.
      StringLike: {
        'aws:userid': agentIds.map((agentId) => `${attributeWithinStack(reader(agentId).role, 'RoleId')}:*`),
      },
    });
    for (const { spec } of this.secrets.values()) {
      const bound = boundTo(spec.agentIds);
      this.key.addStatement(
        keyStatement(`ReadersDecrypt ${spec.name}`, 'Allow', '*', ['kms:Decrypt'], {
          ...bound,
          StringEquals: { ...bound.StringEquals, 'kms:ViaService': viaSecretsManager(stack) },
          // Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
          ArnLike: { 'kms:EncryptionContext:SecretARN': `${secretArnPattern(stack, config, spec.name)}-??????` },
        }),
      );
    }
    for (const agentId of user.agents.map((a) => a.id).sort(compare)) {
      const bound = boundTo([agentId]);
      this.key.addStatement(
        keyStatement(`AgentOpensOwnRecords ${agentId}`, 'Allow', '*', ['kms:Decrypt'], {
          ...bound,
          StringEquals: {
            ...bound.StringEquals,
            [`kms:EncryptionContext:${CONTEXT_KEYS.user}`]: user.id,
            [`kms:EncryptionContext:${CONTEXT_KEYS.agent}`]: agentId,
          },
        }),
      );
    }

    for (const { spec, secret } of this.secrets.values()) {
      const resourcePolicy = new secretsmanager.CfnResourcePolicy(
        this,
        vaultSecretConstructIds(spec.kind, spec.id).policy,
        {
          secretId: refWithinStack(secret),
          resourcePolicy: policy(
            denyEveryone(
              'DenyReadExceptAgentRoles',
              ['secretsmanager:GetSecretValue'],
              {
                StringNotLike: {
                  'aws:userid': spec.agentIds.map(
                    (agentId) => `${attributeWithinStack(reader(agentId).role, 'RoleId')}:*`,
                  ),
                },
              },
              '*',
            ),
            denyEveryone(
              'DenyWriteExceptCredentialWriter',
              ['secretsmanager:PutSecretValue'],
              { ArnNotEquals: { 'aws:PrincipalArn': credentialWriterArn(this, config) } },
              '*',
            ),
            denyEveryone(
              'DenyChangesExceptCloudFormation',
              [
                'secretsmanager:DeleteResourcePolicy',
                'secretsmanager:PutResourcePolicy',
                'secretsmanager:UpdateSecret',
              ],
              { ArnNotEquals: { 'aws:PrincipalArn': cloudFormationExecutionRoleArn(this, config) } },
              '*',
            ),
          ),
          // A policy that allows another account or the public is refused at deploy.
          blockPublicPolicy: true,
        },
      );
      // Removing the user must not strip the denials from the secret, which stays.
      resourcePolicy.applyRemovalPolicy(RemovalPolicy.RETAIN);
    }
  }
}

function viaSecretsManager(stack: Stack): string {
  return `secretsmanager.${stack.region}.amazonaws.com`;
}

/** A secret's ARN without its random suffix (lib/fleet/principals.ts builds role ARNs the same way). */
export function secretArnPattern(stack: Stack, config: CubicleConfig, name: string): string {
  return `arn:${stack.partition}:secretsmanager:${stack.region}:${config.account}:secret:${name}`;
}
