/**
 * Local KMS keys: 256-bit keys kept in the data directory (one file each, mode 0600), used with
 * AES-256-GCM from node:crypto. The encryption context is authenticated (GCM additional data), so a
 * ciphertext decrypts only with the context it was made with, as in KMS. A ciphertext blob names its key,
 * so Decrypt needs no key id.
 *
 * Blob: "CLK1" | key id (36 ASCII) | IV (12) | tag (16) | ciphertext.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { canonicalJson } from '../../runtime/shared/event-chain';
import { AwsError } from '../aws/errors';
import { writeFileAtomic } from '../files';

export type EncryptionContext = Readonly<Record<string, string>>;

export interface KeyRecord {
  readonly keyId: string;
  readonly arn: string;
  readonly alias?: string;
  readonly description: string;
  /** ENCRYPT_DECRYPT (default) or GENERATE_VERIFY_MAC (an HMAC_256 key: the audit chain's). */
  readonly usage?: 'ENCRYPT_DECRYPT' | 'GENERATE_VERIFY_MAC';
}

interface StoredKey extends KeyRecord {
  readonly material: string;
  readonly createdAt: number;
}

const MAGIC = Buffer.from('CLK1');
const ID_LENGTH = 36;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;

export class LocalKms {
  private readonly keys = new Map<string, StoredKey>();
  private readonly aliases = new Map<string, string>();

  constructor(
    private readonly dir: string,
    private readonly region: string,
    private readonly account: string,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const key = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as StoredKey;
      this.keys.set(key.keyId, key);
      if (key.alias) this.aliases.set(key.alias, key.keyId);
    }
  }

  /** The key with this alias, created on first use (a restart finds it again). */
  ensureKey(alias: string, description: string, usage: KeyRecord['usage'] = 'ENCRYPT_DECRYPT'): KeyRecord {
    const existing = this.aliases.get(alias);
    if (existing) return this.record(this.keys.get(existing)!);
    const keyId = randomUUID();
    const key: StoredKey = {
      keyId,
      arn: `arn:aws:kms:${this.region}:${this.account}:key/${keyId}`,
      alias,
      description,
      usage,
      material: randomBytes(32).toString('base64'),
      createdAt: Date.now(),
    };
    const file = path.join(this.dir, `${keyId}.json`);
    if (existsSync(file)) throw new Error(`key file ${file} already exists`);
    writeFileAtomic(file, JSON.stringify(key));
    this.keys.set(keyId, key);
    this.aliases.set(alias, keyId);
    return this.record(key);
  }

  /** A key by id, key ARN, alias name or alias ARN (the forms KMS accepts as KeyId). */
  resolve(keyIdOrAlias: string): KeyRecord {
    const aliasName = /^arn:aws[a-z-]*:kms:[^:]*:\d*:(alias\/.+)$/.exec(keyIdOrAlias)?.[1] ?? keyIdOrAlias;
    const id = aliasName.startsWith('alias/')
      ? this.aliases.get(aliasName)
      : keyIdOrAlias.replace(/^arn:aws[a-z-]*:kms:[^:]*:\d*:key\//, '');
    const key = id ? this.keys.get(id) : undefined;
    if (!key) throw new AwsError('NotFoundException', `Key '${keyIdOrAlias}' does not exist`);
    return this.record(key);
  }

  encrypt(keyId: string, plaintext: Buffer, context: EncryptionContext = {}): Buffer {
    const key = this.keys.get(this.resolve(keyId).keyId)!;
    if (key.usage === 'GENERATE_VERIFY_MAC') throw invalidKeyUsage(key.arn);
    const iv = randomBytes(IV_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(key.material, 'base64'), iv);
    cipher.setAAD(additionalData(key.keyId, context));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([MAGIC, Buffer.from(key.keyId, 'ascii'), iv, cipher.getAuthTag(), ciphertext]);
  }

  decrypt(blob: Buffer, context: EncryptionContext = {}, expectedKeyId?: string): { keyId: string; plaintext: Buffer } {
    const header = MAGIC.length + ID_LENGTH + IV_LENGTH + TAG_LENGTH;
    if (blob.length < header || !blob.subarray(0, MAGIC.length).equals(MAGIC)) throw invalidCiphertext();
    const keyId = blob.subarray(MAGIC.length, MAGIC.length + ID_LENGTH).toString('ascii');
    const key = this.keys.get(keyId);
    if (!key) throw invalidCiphertext();
    if (expectedKeyId !== undefined && this.resolve(expectedKeyId).keyId !== keyId) {
      throw new AwsError(
        'IncorrectKeyException',
        'The key ID in the request does not identify the key that encrypted the ciphertext.',
      );
    }
    let offset = MAGIC.length + ID_LENGTH;
    const iv = blob.subarray(offset, (offset += IV_LENGTH));
    const tag = blob.subarray(offset, (offset += TAG_LENGTH));
    try {
      const decipher = createDecipheriv('aes-256-gcm', Buffer.from(key.material, 'base64'), iv);
      decipher.setAAD(additionalData(keyId, context));
      decipher.setAuthTag(tag);
      return { keyId, plaintext: Buffer.concat([decipher.update(blob.subarray(offset)), decipher.final()]) };
    } catch {
      // A wrong encryption context and a tampered blob look the same, as in KMS.
      throw invalidCiphertext();
    }
  }

  generateDataKey(
    keyId: string,
    context: EncryptionContext = {},
    bytes = 32,
  ): { keyId: string; plaintext: Buffer; blob: Buffer } {
    const plaintext = randomBytes(bytes);
    return { keyId: this.resolve(keyId).keyId, plaintext, blob: this.encrypt(keyId, plaintext, context) };
  }

  /** HMAC-SHA256 of `message` under an HMAC key (KMS GenerateMac with HMAC_SHA_256). */
  generateMac(keyId: string, message: Buffer): Buffer {
    const key = this.keys.get(this.resolve(keyId).keyId)!;
    if (key.usage !== 'GENERATE_VERIFY_MAC') throw invalidKeyUsage(key.arn);
    return createHmac('sha256', Buffer.from(key.material, 'base64')).update(message).digest();
  }

  /** KMS VerifyMac: throws KMSInvalidMacException for a MAC that does not match, as KMS does. */
  verifyMac(keyId: string, message: Buffer, mac: Buffer): void {
    const expected = this.generateMac(keyId, message);
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected))
      throw new AwsError('KMSInvalidMacException', 'The MAC is not valid for this key and message.');
  }

  private record(key: StoredKey): KeyRecord {
    return {
      keyId: key.keyId,
      arn: key.arn,
      alias: key.alias,
      description: key.description,
      usage: key.usage ?? 'ENCRYPT_DECRYPT',
    };
  }
}

function additionalData(keyId: string, context: EncryptionContext): Buffer {
  return Buffer.from(canonicalJson({ keyId, context }), 'utf8');
}

function invalidKeyUsage(arn: string): AwsError {
  return new AwsError('InvalidKeyUsageException', `The key usage of ${arn} does not allow this operation.`);
}

function invalidCiphertext(): AwsError {
  return new AwsError(
    'InvalidCiphertextException',
    'The ciphertext is invalid, or was not encrypted under this key and encryption context.',
  );
}
