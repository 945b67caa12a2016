/**
 * KMS faked at the SDK client boundary (KMS has no local stand-in): GenerateDataKey and Decrypt with real
 * AES-256-GCM wrapping under one master key per key ARN, the encryption context bound as additional
 * authenticated data, as KMS binds it. A data key wrapped under one key or context never unwraps under
 * another. Counts calls, so tests can see the data-key cache work. A key's master is derived from its ARN,
 * so a runtime process and the test that drives it share keys (test/runtime/agent/fixtures/harness.ts).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  DecryptCommand,
  GenerateDataKeyCommand,
  GenerateMacCommand,
  KMSClient,
  VerifyMacCommand,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { ACCOUNT } from './account';

export interface FakeKms {
  readonly client: KMSClient;
  readonly mock: ReturnType<typeof mockClient>;
  /** Creates a key; returns its ARN. */
  createKey(name: string): string;
  calls(command: 'GenerateDataKey' | 'Decrypt'): number;
}

const canonical = (context: Record<string, string> | undefined) =>
  JSON.stringify(Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** Fakes one client, or (with a class) every client the process creates. */
export function fakeKms(region = 'eu-west-1', account = ACCOUNT, target?: typeof KMSClient): FakeKms {
  const client = new KMSClient({ region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const mock = mockClient(target ?? client);
  const keys = {
    get: (arn: string) =>
      /^arn:aws:kms:[a-z0-9-]+:\d{12}:key\/.+$/.test(arn)
        ? createHash('sha256').update(`fake-kms:${arn}`).digest()
        : undefined,
  };
  const invalid = () => Object.assign(new Error('InvalidCiphertextException'), { name: 'InvalidCiphertextException' });

  mock
    .on(GenerateDataKeyCommand)
    .callsFake(async (input: { KeyId: string; NumberOfBytes?: number; EncryptionContext?: Record<string, string> }) => {
      const master = keys.get(input.KeyId);
      if (!master) throw Object.assign(new Error(`key ${input.KeyId} not found`), { name: 'NotFoundException' });
      const plaintext = randomBytes(input.NumberOfBytes ?? 32);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', master, iv);
      cipher.setAAD(Buffer.from(canonical(input.EncryptionContext)));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return {
        KeyId: input.KeyId,
        Plaintext: new Uint8Array(plaintext),
        CiphertextBlob: new Uint8Array(Buffer.concat([iv, cipher.getAuthTag(), body])),
      };
    });
  mock
    .on(DecryptCommand)
    .callsFake(
      async (input: { KeyId: string; CiphertextBlob: Uint8Array; EncryptionContext?: Record<string, string> }) => {
        const master = keys.get(input.KeyId);
        if (!master) throw invalid();
        const blob = Buffer.from(input.CiphertextBlob);
        try {
          const decipher = createDecipheriv('aes-256-gcm', master, blob.subarray(0, 12));
          decipher.setAAD(Buffer.from(canonical(input.EncryptionContext)));
          decipher.setAuthTag(blob.subarray(12, 28));
          const plaintext = Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]);
          return { KeyId: input.KeyId, Plaintext: new Uint8Array(plaintext) };
        } catch {
          throw invalid();
        }
      },
    );

  // HMAC keys (the audit chain key): HMAC-SHA256 under the key's master, as KMS GenerateMac computes it.
  const hmac = (input: { KeyId: string; Message: Uint8Array; MacAlgorithm?: string }) => {
    const master = keys.get(input.KeyId);
    if (!master) throw Object.assign(new Error(`key ${input.KeyId} not found`), { name: 'NotFoundException' });
    if (input.MacAlgorithm !== 'HMAC_SHA_256')
      throw Object.assign(new Error('bad MacAlgorithm'), { name: 'InvalidKeyUsageException' });
    return createHmac('sha256', master).update(Buffer.from(input.Message)).digest();
  };
  mock.on(GenerateMacCommand).callsFake(async (input) => ({
    KeyId: input.KeyId,
    Mac: new Uint8Array(hmac(input)),
    MacAlgorithm: 'HMAC_SHA_256',
  }));
  mock
    .on(VerifyMacCommand)
    .callsFake(async (input: { KeyId: string; Message: Uint8Array; Mac: Uint8Array; MacAlgorithm?: string }) => {
      const expected = hmac(input);
      const given = Buffer.from(input.Mac);
      // KMS answers a MAC that does not match with KMSInvalidMacException, never MacValid: false.
      if (given.length !== expected.length || !timingSafeEqual(given, expected))
        throw Object.assign(new Error('KMSInvalidMacException'), { name: 'KMSInvalidMacException' });
      return { KeyId: input.KeyId, MacValid: true, MacAlgorithm: 'HMAC_SHA_256' };
    });

  return {
    client,
    mock,
    createKey(name) {
      return `arn:aws:kms:${region}:${account}:key/${name}`;
    },
    calls: (command) =>
      (command === 'GenerateDataKey' ? mock.commandCalls(GenerateDataKeyCommand) : mock.commandCalls(DecryptCommand))
        .length,
  };
}
