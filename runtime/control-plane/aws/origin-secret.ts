import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

/**
 * Reads the values the origin check accepts: the secret's AWSCURRENT version and, when there is one,
 * its AWSPREVIOUS version (the value CloudFront still sends until a rotation's deploy has propagated).
 */
export function originSecretFetcher(client: SecretsManagerClient, secretId: string): () => Promise<readonly string[]> {
  const read = async (stage: 'AWSCURRENT' | 'AWSPREVIOUS'): Promise<string | undefined> => {
    try {
      const { SecretString } = await client.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }),
      );
      return SecretString;
    } catch (error) {
      // A secret that was never rotated has no AWSPREVIOUS version.
      if (stage === 'AWSPREVIOUS' && error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  };
  return async () => {
    const [current, previous] = await Promise.all([read('AWSCURRENT'), read('AWSPREVIOUS')]);
    if (!current) throw new Error('the origin-verify secret has no current value');
    return previous ? [current, previous] : [current];
  };
}
