/**
 * Local Secrets Manager secrets, encrypted at rest the way Secrets Manager does it: each version's value
 * is encrypted (AES-256-GCM) under a fresh data key, and the data key is encrypted under the secret's KMS
 * key with the encryption context { SecretARN, SecretVersionId }
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html).
 * No value is ever written in plaintext. A secret keeps its AWSCURRENT and AWSPREVIOUS versions.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { canonicalJson } from '../../runtime/shared/event-chain';
import { AwsError } from '../aws/errors';
import { writeFileAtomic } from '../files';
import type { LocalKms } from './kms';

interface StoredVersion {
  readonly versionId: string;
  stages: string[];
  readonly createdAt: number;
  readonly dataKey: string;
  readonly iv: string;
  readonly tag: string;
  readonly ciphertext: string;
}

interface StoredSecret {
  readonly name: string;
  readonly arn: string;
  readonly keyId: string;
  readonly createdAt: number;
  versions: StoredVersion[];
}

export interface SecretValue {
  readonly arn: string;
  readonly name: string;
  readonly versionId: string;
  readonly value: string;
  readonly stages: readonly string[];
  readonly createdAt: number;
}

const SUFFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export class LocalSecrets {
  constructor(
    private readonly dir: string,
    private readonly kms: LocalKms,
    private readonly region: string,
    private readonly account: string,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Creates the secret with its first value unless it exists; returns its ARN. */
  ensure(name: string, keyId: string, initialValue: string): string {
    const existing = this.read(name);
    if (existing) return existing.arn;
    // Secrets Manager appends "-" and six random characters to the name in the ARN.
    const suffix = [...randomBytes(6)].map((b) => SUFFIX_ALPHABET[b % SUFFIX_ALPHABET.length]).join('');
    const secret: StoredSecret = {
      name,
      arn: `arn:aws:secretsmanager:${this.region}:${this.account}:secret:${name}-${suffix}`,
      keyId: this.kms.resolve(keyId).keyId,
      createdAt: Date.now(),
      versions: [],
    };
    this.addVersion(secret, randomUUID(), initialValue);
    return secret.arn;
  }

  /** The name of a secret given as name, full ARN or ARN without the random suffix; undefined if unknown. */
  nameOf(secretId: string): string | undefined {
    const fromArn = /^arn:aws[a-z-]*:secretsmanager:[^:]+:\d{12}:secret:(.+)$/.exec(secretId)?.[1];
    if (fromArn === undefined) return this.read(secretId) ? secretId : undefined;
    const exact = this.read(fromArn);
    if (exact) return exact.arn === secretId ? exact.name : undefined;
    const withoutSuffix = /^(.+)-[A-Za-z0-9]{6}$/.exec(fromArn)?.[1];
    const full = withoutSuffix ? this.read(withoutSuffix) : undefined;
    return full && full.arn === secretId ? full.name : undefined;
  }

  get(name: string, options: { versionId?: string; versionStage?: string } = {}): SecretValue {
    const secret = this.mustRead(name);
    const version = options.versionId
      ? secret.versions.find(
          (v) =>
            v.versionId === options.versionId && (!options.versionStage || v.stages.includes(options.versionStage)),
        )
      : secret.versions.find((v) => v.stages.includes(options.versionStage ?? 'AWSCURRENT'));
    if (!version) {
      throw new AwsError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for ${options.versionId ? `VersionId: ${options.versionId}` : `staging label: ${options.versionStage}`}`,
      );
    }
    return {
      arn: secret.arn,
      name: secret.name,
      versionId: version.versionId,
      value: this.open(secret, version),
      stages: [...version.stages],
      createdAt: version.createdAt,
    };
  }

  /** A new AWSCURRENT version; the old current one becomes AWSPREVIOUS. Idempotent per client request token. */
  put(name: string, value: string, clientRequestToken: string = randomUUID()): SecretValue {
    const secret = this.mustRead(name);
    const same = secret.versions.find((v) => v.versionId === clientRequestToken);
    if (same) {
      if (this.open(secret, same) !== value) {
        throw new AwsError(
          'ResourceExistsException',
          'A version with this ClientRequestToken already exists with a different value.',
        );
      }
      return {
        arn: secret.arn,
        name,
        versionId: same.versionId,
        value,
        stages: [...same.stages],
        createdAt: same.createdAt,
      };
    }
    const version = this.addVersion(secret, clientRequestToken, value);
    return {
      arn: secret.arn,
      name,
      versionId: version.versionId,
      value,
      stages: [...version.stages],
      createdAt: version.createdAt,
    };
  }

  private addVersion(secret: StoredSecret, versionId: string, value: string): StoredVersion {
    const context = { SecretARN: secret.arn, SecretVersionId: versionId };
    const dataKey = this.kms.generateDataKey(secret.keyId, context);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', dataKey.plaintext, iv);
    cipher.setAAD(Buffer.from(canonicalJson(context), 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    dataKey.plaintext.fill(0);
    const version: StoredVersion = {
      versionId,
      stages: ['AWSCURRENT'],
      createdAt: Date.now(),
      dataKey: dataKey.blob.toString('base64'),
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    };
    const previous = secret.versions.find((v) => v.stages.includes('AWSCURRENT'));
    // Versions without a label are deprecated (Secrets Manager removes them): keep current and previous.
    secret.versions = secret.versions.filter((v) => v === previous);
    if (previous) previous.stages = ['AWSPREVIOUS'];
    secret.versions.push(version);
    writeFileAtomic(this.fileOf(secret.name), JSON.stringify(secret));
    return version;
  }

  private open(secret: StoredSecret, version: StoredVersion): string {
    const context = { SecretARN: secret.arn, SecretVersionId: version.versionId };
    const { plaintext: key } = this.kms.decrypt(Buffer.from(version.dataKey, 'base64'), context, secret.keyId);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(version.iv, 'base64'));
    decipher.setAAD(Buffer.from(canonicalJson(context), 'utf8'));
    decipher.setAuthTag(Buffer.from(version.tag, 'base64'));
    const value = Buffer.concat([
      decipher.update(Buffer.from(version.ciphertext, 'base64')),
      decipher.final(),
    ]).toString('utf8');
    key.fill(0);
    return value;
  }

  private fileOf(name: string): string {
    return path.join(this.dir, `${createHash('sha256').update(name).digest('hex').slice(0, 32)}.json`);
  }

  private read(name: string): StoredSecret | undefined {
    const file = this.fileOf(name);
    if (!existsSync(file)) return undefined;
    const secret = JSON.parse(readFileSync(file, 'utf8')) as StoredSecret;
    return secret.name === name ? secret : undefined;
  }

  private mustRead(name: string): StoredSecret {
    const secret = this.read(name);
    if (!secret) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return secret;
  }
}
