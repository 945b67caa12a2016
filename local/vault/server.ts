/**
 * Secrets Manager and KMS on one loopback port (AWS_ENDPOINT_URL_SECRETS_MANAGER and
 * AWS_ENDPOINT_URL_KMS both point here): the operations the AWS code calls, each after the caller's
 * signature and permissions are checked (local/aws/policy.ts).
 */
import type { Server } from 'node:http';
import { AwsError } from '../aws/errors';
import {
  createJsonServer,
  epochSeconds,
  optionalString,
  requireString,
  type JsonServerOptions,
  type Operation,
} from '../aws/json-server';
import type { Authorizer, KmsAction, SecretsAction } from '../aws/policy';
import { describePrincipal, type CredentialStore, type Principal } from '../aws/principals';
import type { EncryptionContext } from './kms';
import type { LocalVault } from './vault';

/** Secrets Manager's limit for a secret value. */
const MAX_SECRET_BYTES = 65_536;

/** `other`: requests that are not JSON protocol calls, e.g. the STS stand-in on the same port (local/sts). */
export function createVaultServer(
  vault: LocalVault,
  credentials: CredentialStore,
  authorizer: Authorizer,
  other?: JsonServerOptions['other'],
): Server {
  const secretName = (principal: Principal, action: SecretsAction, secretId: string): string => {
    const name = vault.secrets.nameOf(secretId);
    const access = vault.access(name ?? secretId);
    if (!authorizer.secret(principal, action, access)) throw denied(principal, action, secretId);
    if (!name) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return name;
  };
  const keyFor = (principal: Principal, action: KmsAction, keyId: string, context?: EncryptionContext) => {
    const key = vault.kms.resolve(keyId);
    if (!authorizer.key(principal, action, key, context)) throw denied(principal, action, key.arn);
    return key;
  };

  const secretsManager: Record<string, Operation> = {
    async GetSecretValue(input, principal) {
      const name = secretName(principal, 'secretsmanager:GetSecretValue', requireString(input, 'SecretId'));
      const value = vault.secrets.get(name, {
        versionId: optionalString(input, 'VersionId'),
        versionStage: optionalString(input, 'VersionStage'),
      });
      return {
        ARN: value.arn,
        Name: value.name,
        VersionId: value.versionId,
        SecretString: value.value,
        VersionStages: value.stages,
        CreatedDate: epochSeconds(value.createdAt),
      };
    },
    async PutSecretValue(input, principal) {
      const name = secretName(principal, 'secretsmanager:PutSecretValue', requireString(input, 'SecretId'));
      if (input.SecretBinary !== undefined)
        throw new AwsError('InvalidParameterException', 'Local mode stores SecretString values only.');
      const text = requireString(input, 'SecretString');
      if (Buffer.byteLength(text, 'utf8') > MAX_SECRET_BYTES)
        throw new AwsError('InvalidParameterException', 'The secret value is too large.');
      const version = vault.secrets.put(name, text, optionalString(input, 'ClientRequestToken'));
      return { ARN: version.arn, Name: version.name, VersionId: version.versionId, VersionStages: version.stages };
    },
  };

  const kms: Record<string, Operation> = {
    async Encrypt(input, principal) {
      const key = keyFor(principal, 'kms:Encrypt', requireString(input, 'KeyId'), contextOf(input));
      const blob = vault.kms.encrypt(key.keyId, blobOf(input, 'Plaintext'), contextOf(input));
      return { CiphertextBlob: blob.toString('base64'), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    async Decrypt(input, principal) {
      const blob = blobOf(input, 'CiphertextBlob');
      // The blob names its key; the caller must be allowed to use that key.
      const keyId = blob.length >= 40 ? blob.subarray(4, 40).toString('ascii') : '';
      const key = keyFor(principal, 'kms:Decrypt', optionalString(input, 'KeyId') ?? keyId, contextOf(input));
      const { plaintext } = vault.kms.decrypt(blob, contextOf(input), key.keyId);
      return { Plaintext: plaintext.toString('base64'), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    async GenerateDataKey(input, principal) {
      const key = keyFor(principal, 'kms:GenerateDataKey', requireString(input, 'KeyId'), contextOf(input));
      const bytes =
        input.NumberOfBytes ??
        (input.KeySpec === 'AES_128' ? 16 : input.KeySpec === 'AES_256' || input.KeySpec === undefined ? 32 : NaN);
      if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 1 || bytes > 1024) {
        throw new AwsError('ValidationException', 'KeySpec must be AES_256 or AES_128, or NumberOfBytes 1 to 1024.');
      }
      const dataKey = vault.kms.generateDataKey(key.keyId, contextOf(input), bytes);
      return {
        CiphertextBlob: dataKey.blob.toString('base64'),
        Plaintext: dataKey.plaintext.toString('base64'),
        KeyId: key.arn,
      };
    },
    async GenerateMac(input, principal) {
      const key = keyFor(principal, 'kms:GenerateMac', requireString(input, 'KeyId'));
      macAlgorithm(input);
      return {
        Mac: vault.kms.generateMac(key.keyId, blobOf(input, 'Message')).toString('base64'),
        KeyId: key.arn,
        MacAlgorithm: 'HMAC_SHA_256',
      };
    },
    async VerifyMac(input, principal) {
      const key = keyFor(principal, 'kms:VerifyMac', requireString(input, 'KeyId'));
      macAlgorithm(input);
      vault.kms.verifyMac(key.keyId, blobOf(input, 'Message'), blobOf(input, 'Mac'));
      return { MacValid: true, KeyId: key.arn, MacAlgorithm: 'HMAC_SHA_256' };
    },
    async DescribeKey(input, principal) {
      const key = keyFor(principal, 'kms:DescribeKey', requireString(input, 'KeyId'));
      return {
        KeyMetadata: {
          KeyId: key.keyId,
          Arn: key.arn,
          Description: key.description,
          Enabled: true,
          KeyState: 'Enabled',
          KeyUsage: key.usage ?? 'ENCRYPT_DECRYPT',
          KeySpec: key.usage === 'GENERATE_VERIFY_MAC' ? 'HMAC_256' : 'SYMMETRIC_DEFAULT',
          KeyManager: 'CUSTOMER',
          Origin: 'AWS_KMS',
        },
      };
    },
  };

  return createJsonServer({
    credentials,
    other,
    services: [
      { targetPrefix: 'secretsmanager', signingName: 'secretsmanager', operations: secretsManager },
      { targetPrefix: 'TrentService', signingName: 'kms', operations: kms },
    ],
  });
}

function denied(principal: Principal, action: string, resource: string): AwsError {
  return new AwsError(
    'AccessDeniedException',
    `User: ${describePrincipal(principal)} is not authorized to perform: ${action} on resource: ${resource} because no policy allows it`,
  );
}

/** The chain key is an HMAC_256 key: HMAC_SHA_256 is its one algorithm. */
function macAlgorithm(input: Record<string, unknown>): void {
  if (input.MacAlgorithm !== 'HMAC_SHA_256')
    throw new AwsError('InvalidKeyUsageException', 'MacAlgorithm must be HMAC_SHA_256 for this key.');
}

function blobOf(input: Record<string, unknown>, key: string): Buffer {
  const value = input[key];
  if (typeof value !== 'string' || value.length === 0) throw new AwsError('ValidationException', `${key} is required.`);
  return Buffer.from(value, 'base64');
}

function contextOf(input: Record<string, unknown>): EncryptionContext {
  const context = input.EncryptionContext ?? {};
  if (typeof context !== 'object' || context === null || Object.values(context).some((v) => typeof v !== 'string')) {
    throw new AwsError('ValidationException', 'EncryptionContext must map strings to strings.');
  }
  return context as EncryptionContext;
}
