import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { traced } from './tracing';

export function secretsClient(): SecretsManagerClient {
  return traced(new SecretsManagerClient({}));
}
