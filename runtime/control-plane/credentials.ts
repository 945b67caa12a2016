/**
 * The caller's own credentials, by the credential writer function (the only control-plane principal the
 * fleet's secret policies and user keys admit for writing):
 * - PUT /v1/credentials/{provider}, PUT /v1/connections/{connection}/credential: writes the secret
 *   (PutSecretValue) under the user's KMS key. A provider credential is validated first with the schema
 *   the runtime parses at task start (runtime/shared/provider-credentials.ts), so a wrong kind is a 400
 *   now, not a failed agent later.
 * - DELETE on the same paths revokes: the secret returns to the vault's placeholder (never a token), and a
 *   `credential.revoked` event goes on the chain of every agent of the caller that used it.
 * The body is never logged, echoed or kept: it goes from the request to Secrets Manager and nowhere else.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import type { ChainKey } from '../shared/event-chain';
import { EventLog } from '../shared/event-log';
import { connectionSecretName, providerSecretName } from '../shared/names';
import { parseProviderCredential, PROVIDERS, type Provider } from '../shared/provider-credentials';
import { pairKey } from '../shared/tables';
import { VAULT_PLACEHOLDER } from '../shared/vault';
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
  /** Where revocations are recorded (the Events table). */
  readonly events: {
    readonly doc: DynamoDBDocumentClient;
    readonly table: string;
    readonly chain: Pick<ChainKey, 'mac'>;
    readonly now: () => number;
  };
}

/** Secrets Manager's limit for a secret value. */
export const MAX_CREDENTIAL_CHARS = 65_536;

const CREDENTIAL_BODY = z.strictObject({
  value: z
    .string()
    .check(
      z.minLength(1, 'must not be empty'),
      z.maxLength(MAX_CREDENTIAL_CHARS, `must be at most ${MAX_CREDENTIAL_CHARS} characters`),
    ),
});

interface Target {
  readonly kind: 'provider' | 'connection';
  readonly id: string;
  readonly secretName: string;
  /** The caller's agents that read it. */
  readonly agentIds: readonly string[];
}

export function createCredentialsHandler(deps: CredentialDeps): (event: HttpEvent) => Promise<HttpResult> {
  return (event) =>
    handleWithIdentity(deps.logger, deps.auth, event, async (user, requestId) => {
      const target = targetOf(deps.deployment, user, event);
      const revoke =
        event.routeKey === CREDENTIAL_ROUTES.revokeProvider || event.routeKey === CREDENTIAL_ROUTES.revokeConnection;
      let value = VAULT_PLACEHOLDER;
      if (!revoke) {
        value = parseBody(event, CREDENTIAL_BODY).value;
        if (target.kind === 'provider') validateProviderCredential(target.id as Provider, value);
      }
      try {
        await deps.secrets.send(new PutSecretValueCommand({ SecretId: target.secretName, SecretString: value }));
      } catch (error) {
        if ((error as Error).name === 'ResourceNotFoundException') {
          throw new HttpError(
            404,
            'There is no place for this credential yet. Ask your platform team to deploy the fleet.',
          );
        }
        throw error;
      }
      if (revoke) {
        for (const agentId of target.agentIds) {
          await new EventLog(
            deps.events.doc,
            deps.events.table,
            pairKey(user.id, agentId),
            deps.events.chain,
            deps.events.now,
          ).append({
            type: 'credential.revoked',
            requestId,
            data: { kind: target.kind, id: target.id },
          });
        }
        deps.logger.info('credential revoked', { secret_name: target.secretName, agents: target.agentIds });
      } else {
        deps.logger.info('credential stored', { secret_name: target.secretName });
      }
      return { statusCode: 204, headers: { 'cache-control': 'no-store' } };
    });
}

/** The runtime's own parse of a provider secret; its errors name the rule, never the value. */
function validateProviderCredential(provider: Provider, value: string): void {
  try {
    parseProviderCredential(provider, value);
  } catch (error) {
    throw new HttpError(
      400,
      `Invalid body: value ${(error as Error).message}. Send a bare API key, or { "kind", "value" } JSON as a string.`,
    );
  }
}

/** The caller's own secret for the route, or 404 when none of the caller's agents uses it. */
function targetOf(deployment: string, user: RosterUser, event: HttpEvent): Target {
  const route = event.routeKey;
  if (route === CREDENTIAL_ROUTES.provider || route === CREDENTIAL_ROUTES.revokeProvider) {
    const provider = event.pathParameters?.provider;
    const agents = user.agents.filter((a) => a.provider === provider && a.providerSecret);
    if (provider && (PROVIDERS as readonly string[]).includes(provider) && agents.length > 0) {
      return {
        kind: 'provider',
        id: provider,
        secretName: providerSecretName(deployment, user.id, provider),
        agentIds: agents.map((a) => a.id),
      };
    }
    throw new HttpError(404, 'None of your agents uses a stored credential for this provider.');
  }
  if (route === CREDENTIAL_ROUTES.connection || route === CREDENTIAL_ROUTES.revokeConnection) {
    const connection = event.pathParameters?.connection;
    const agents = user.agents.filter((a) => connection !== undefined && a.secretConnections.includes(connection));
    if (connection && agents.length > 0) {
      return {
        kind: 'connection',
        id: connection,
        secretName: connectionSecretName(deployment, user.id, connection),
        agentIds: agents.map((a) => a.id),
      };
    }
    throw new HttpError(404, 'None of your agents uses a credential for this connection.');
  }
  throw new HttpError(404, 'No such route.');
}
