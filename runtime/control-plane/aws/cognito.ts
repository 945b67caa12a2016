import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { traced } from './tracing';

/** Adaptive retries: the directory sync runs many user calls against Cognito's per-second quotas. */
export function cognitoClient(): CognitoIdentityProviderClient {
  return traced(new CognitoIdentityProviderClient({ maxAttempts: 10, retryMode: 'adaptive' }));
}
