/**
 * PUT /v1/credentials/{provider} and PUT /v1/connections/{connection}/credential: writes the caller's own
 * secret (PutSecretValue) under the user's KMS key. Runs as its own function with the credential-writer
 * role, the only control-plane principal the fleet's secret policies and user keys admit. The body is
 * never logged, echoed or kept: it goes from the request to Secrets Manager and nowhere else.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod/mini';
import { connectionSecretName, providerSecretName } from '../shared/names';
import { handleWithIdentity, HttpError, parseBody, type HttpEvent, type HttpResult } from './http';
import type { Authenticator } from './auth';
import type { RosterUser } from './roster';
import { CREDENTIAL_ROUTES } from './routes';

export interface CredentialDeps {
  /** Verifies the bearer token and maps it to a roster user. */
  readonly auth: Authenticator;
  readonly secrets: SecretsManagerClient;
  readonly deployment: string;
  readonly logger: Logger;
}

/** Secrets Manager's limit for a secret value. */
export const MAX_CREDENTIAL_CHARS = 65_536;

const CREDENTIAL_BODY = z.strictObject({
  value: z.string().check(
    z.minLength(1, 'must not be empty'),
    z.maxLength(MAX_CREDENTIAL_CHARS, `must be at most ${MAX_CREDENTIAL_CHARS} characters`),
  ),
});


export function createCredentialsHandler(deps: CredentialDeps): (event: HttpEvent) => Promise<HttpResult> {
  return (event) =>
    handleWithIdentity(deps.logger, deps.auth, event, async (user) => {
      const secretName = secretFor(deps.deployment, user, event);
      const { value } = parseBody(event, CREDENTIAL_BODY);
      try {
        await deps.secrets.send(new PutSecretValueCommand({ SecretId: secretName, SecretString: value }));
      } catch (error) {
        if ((error as Error).name === 'ResourceNotFoundException') {
          throw new HttpError(404, 'There is no place for this credential yet. Ask your platform team to deploy the fleet.');
        }
        throw error;
      }
      deps.logger.info('credential stored', { secret_name: secretName });
      return { statusCode: 204, headers: { 'cache-control': 'no-store' } };
    });
}

/** The caller's own secret for the route, or 404 when none of the caller's agents uses it. */
function secretFor(deployment: string, user: RosterUser, event: HttpEvent): string {
  if (event.routeKey === CREDENTIAL_ROUTES.provider) {
    const provider = event.pathParameters?.provider;
    if (provider && user.agents.some((a) => a.provider === provider && a.providerSecret)) {
      return providerSecretName(deployment, user.id, provider);
    }
    throw new HttpError(404, 'None of your agents uses a stored credential for this provider.');
  }
  if (event.routeKey === CREDENTIAL_ROUTES.connection) {
    const connection = event.pathParameters?.connection;
    if (connection && user.agents.some((a) => a.secretConnections.includes(connection))) {
      return connectionSecretName(deployment, user.id, connection);
    }
    throw new HttpError(404, 'None of your agents uses a credential for this connection.');
  }
  throw new HttpError(404, 'No such route.');
}

