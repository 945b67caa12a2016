/**
 * The local vault: one KMS key per user (alias as in AWS) and the secrets the fleet creates for that user
 * (lib/fleet/vault-secrets.ts, the same function), each starting with the same placeholder; plus the
 * origin-verify secret under its own key. Everything lives under `<data>/vault/`.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { chainKeyAlias, userKeyAlias } from '../../runtime/shared/names';
import { VAULT_PLACEHOLDER } from '../../runtime/shared/vault';
import type { CubicleConfig } from '../../lib/config/schema';
import type { AgentSecretRef } from '../../lib/fleet/agent-environment';
import { vaultSecrets } from '../../lib/fleet/vault-secrets';
import type { SecretAccess } from '../aws/policy';
import { LocalKms } from './kms';
import { LocalSecrets } from './secrets';

export class LocalVault {
  readonly kms: LocalKms;
  readonly secrets: LocalSecrets;
  readonly originSecretArn: string;
  /** The audit chain's HMAC key (runtime/shared/event-chain.ts): only event appenders may GenerateMac with it. */
  readonly chainKeyArn: string;
  private readonly refs = new Map<string, AgentSecretRef[]>();
  private readonly userKeys = new Map<string, string>();
  private readonly accessByName = new Map<string, SecretAccess>();
  private readonly originSecretName: string;

  constructor(dir: string, config: CubicleConfig) {
    this.kms = new LocalKms(path.join(dir, 'keys'), config.region, config.account);
    this.secrets = new LocalSecrets(path.join(dir, 'secrets'), this.kms, config.region, config.account);
    for (const user of config.users) {
      const key = this.kms.ensureKey(
        userKeyAlias(config.name, user.id),
        `Cubicle: encrypts the credentials and records of user ${user.id}`,
      );
      this.userKeys.set(user.id, key.arn);
      const refs: AgentSecretRef[] = [];
      for (const spec of vaultSecrets(config, user)) {
        refs.push({ spec, arn: this.secrets.ensure(spec.name, key.keyId, VAULT_PLACEHOLDER) });
        this.accessByName.set(spec.name, {
          name: spec.name,
          userId: user.id,
          readerAgentIds: spec.agentIds,
          originVerify: false,
        });
      }
      this.refs.set(user.id, refs);
    }
    // Outside the `cubicle/<name>/` prefix the credential writer may write to, as in the Edge stack.
    this.originSecretName = `${config.name}-origin-verify`;
    const originKey = this.kms.ensureKey(
      `alias/cubicle-local/${config.name}/origin-verify`,
      'Cubicle: encrypts the CloudFront origin-verify secret',
    );
    this.originSecretArn = this.secrets.ensure(
      this.originSecretName,
      originKey.keyId,
      randomBytes(48).toString('base64url'),
    );
    this.accessByName.set(this.originSecretName, {
      name: this.originSecretName,
      readerAgentIds: [],
      originVerify: true,
    });
    this.chainKeyArn = this.kms.ensureKey(
      chainKeyAlias(config.name),
      'Cubicle: MACs the audit chain of agent events',
      'GENERATE_VERIFY_MAC',
    ).arn;
  }

  /** The user's vault secrets with their ARNs, for the agents' environment. */
  secretRefs(userId: string): readonly AgentSecretRef[] {
    return this.refs.get(userId) ?? [];
  }

  /** The ARN of the user's key (the agents' CUBICLE_USER_KEY_ARN: they open their sealed messages with it). */
  userKeyArn(userId: string): string {
    const arn = this.userKeys.get(userId);
    if (!arn) throw new Error(`no local key for user ${userId}`);
    return arn;
  }

  /** How the policy sees a secret; a secret no roster user owns (a removed user's) has no readers. */
  access(name: string): SecretAccess {
    return this.accessByName.get(name) ?? { name, readerAgentIds: [], originVerify: false };
  }

  /** The value the front adds as the origin header, as CloudFront adds the value it was deployed with. */
  originHeaderValue(): string {
    return this.secrets.get(this.originSecretName).value;
  }
}
