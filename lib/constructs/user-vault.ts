import { RemovalPolicy, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { secretNamePrefix, userKeyAlias } from '../../runtime/shared/names';
import { CubicleConfig, UserConfig } from '../config/schema';
import { vaultSecretConstructIds } from '../fleet/naming';
import { agentRoleArn, cloudFormationExecutionRoleArn, credentialWriterArn } from '../fleet/principals';
import { denyEveryone, policy } from '../fleet/policy-json';
import { VaultSecretSpec, vaultSecrets } from '../fleet/vault-secrets';
import { VAULT_PLACEHOLDER } from '../../runtime/shared/vault';
import { createRetainedKey } from './retained-key';

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

/**
 * One user's credentials (claim 3, docs/isolation-claims.md): a KMS key and one secret per provider and per
 * connection-with-secret that the user's agents use.
 *
 * - The key policy has no `kms:*` for the account: the account may administer the key but not use it,
 *   so no IAM policy (not even AdministratorAccess) can grant Decrypt. Only the agent roles that read a
 *   secret may decrypt, only via Secrets Manager and only with that secret's ARN as encryption context;
 *   only the credential writers may encrypt, only via Secrets Manager and only for this user's secrets.
 * - Each secret's resource policy denies GetSecretValue to every principal except the agent roles that
 *   read it, and PutSecretValue to everyone except the control plane's credential writer, so an account
 *   admin cannot read a token without first changing a policy (which CloudTrail records).
 * - Principals are named in `aws:PrincipalArn` conditions built from role names (lib/fleet/principals.ts),
 *   so the key and secrets need no reference to roles that may not exist yet.
 */
export class UserVault extends Construct {
  readonly key: kms.Key;
  /** By secret name. */
  readonly secrets: ReadonlyMap<string, VaultSecret>;

  constructor(scope: Construct, id: string, props: UserVaultProps) {
    super(scope, id);
    const { config, user } = props;
    const stack = Stack.of(this);
    const specs = vaultSecrets(config, user);
    const secretArnPattern = (name: string) => `arn:${stack.partition}:secretsmanager:${stack.region}:${config.account}:secret:${name}`;
    const viaSecretsManager = { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` };
    const writer = credentialWriterArn(this, config);

    this.key = createRetainedKey(this, 'Key', {
      description: `Cubicle: encrypts the credentials of user ${user.id}`,
      alias: userKeyAlias(config.name, user.id),
      // No IAM policy in the account, AdministratorAccess included, can grant Decrypt: only this policy's
      // statements below (the user's agent roles, via Secrets Manager, per secret) use the key.
      iamGrantsUse: false,
    });
    const account = new iam.AccountRootPrincipal();
    for (const spec of specs) {
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: `ReadersDecrypt ${spec.name}`,
          principals: [account],
          actions: ['kms:Decrypt'],
          // In a key policy "*" is this key.
          resources: ['*'],
          conditions: {
            ArnEquals: { 'aws:PrincipalArn': spec.agentIds.map((agentId) => agentRoleArn(this, config, user.id, agentId)) },
            StringEquals: viaSecretsManager,
            // Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
            ArnLike: { 'kms:EncryptionContext:SecretARN': `${secretArnPattern(spec.name)}-??????` },
          },
        }),
      );
    }
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CredentialWritersEncrypt',
        principals: [account],
        actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: {
          ArnEquals: { 'aws:PrincipalArn': [writer, cloudFormationExecutionRoleArn(this, config)] },
          StringEquals: viaSecretsManager,
          ArnLike: { 'kms:EncryptionContext:SecretARN': `${secretArnPattern(`${secretNamePrefix(config.name)}${user.id}/`)}*` },
        },
      }),
    );

    const secrets = new Map<string, VaultSecret>();
    for (const spec of specs) {
      const ids = vaultSecretConstructIds(spec.kind, spec.id);
      const secret = new secretsmanager.CfnSecret(this, ids.secret, {
        name: spec.name,
        description: `Cubicle: ${user.id}'s ${spec.kind} credential for ${spec.id} (read by ${spec.agentIds.join(', ')})`,
        kmsKeyId: this.key.keyArn,
        secretString: VAULT_PLACEHOLDER,
      });
      secret.applyRemovalPolicy(RemovalPolicy.RETAIN);
      new secretsmanager.CfnResourcePolicy(this, ids.policy, {
        secretId: secret.ref,
        resourcePolicy: policy(
          denyEveryone(
            'DenyReadExceptAgentRoles',
            ['secretsmanager:GetSecretValue'],
            { ArnNotEquals: { 'aws:PrincipalArn': spec.agentIds.map((agentId) => agentRoleArn(this, config, user.id, agentId)) } },
            '*',
          ),
          denyEveryone('DenyWriteExceptCredentialWriter', ['secretsmanager:PutSecretValue'], { ArnNotEquals: { 'aws:PrincipalArn': writer } }, '*'),
        ),
        // A policy that allows another account or the public is refused at deploy.
        blockPublicPolicy: true,
      });
      secrets.set(spec.name, { spec, secret, arn: secret.ref });
    }
    this.secrets = secrets;
    Tags.of(this).add('user_id', user.id);
    // On the vault, so once per user rather than once per secret: it covers every secret above.
    const noRotation =
      'Provider and connector tokens are issued by third parties; Secrets Manager cannot rotate them. The employee replaces them through the control plane.';
    Validations.of(this).acknowledge(
      { id: 'AwsSolutions-SMG4', reason: noRotation },
      { id: 'NIST.800.53.R5-SecretsManagerRotationEnabled', reason: noRotation },
    );
  }
}
