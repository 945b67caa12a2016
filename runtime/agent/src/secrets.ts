import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AgentEnv } from '../../shared/agent-env';
import { parseProviderCredential, type ProviderCredential } from '../../shared/provider-credentials';
import type { Redactor } from '../../shared/redact';
import { isVaultPlaceholder } from '../../shared/vault';

export interface LoadedSecrets {
  /** Absent for bedrock. */
  readonly provider?: ProviderCredential;
  /** Connection id → secret value, for connections whose credential the employee has stored. */
  readonly connections: ReadonlyMap<string, string>;
  /** Connections with a secret that still holds the vault's placeholder (no credential stored yet). */
  readonly connectionsWithoutCredential: readonly string[];
}

/**
 * Reads the agent's secrets into memory. Each value is registered with the redactor before anything
 * else can see it; errors carry the connection id or provider, never the value or the ARN's contents.
 */
export async function loadSecrets(
  client: SecretsManagerClient,
  env: AgentEnv,
  redactor: Redactor,
): Promise<LoadedSecrets> {
  const read = async (arn: string, what: string): Promise<string> => {
    let out;
    try {
      out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    } catch (error) {
      // eslint-disable-next-line preserve-caught-error -- the name only: the SDK's message and cause stay out of the agent's logs
      throw new Error(`could not read the ${what} secret: ${(error as Error).name}`);
    }
    if (typeof out.SecretString !== 'string' || out.SecretString.length === 0) {
      throw new Error(`the ${what} secret has no string value`);
    }
    redactor.addJson(out.SecretString);
    return out.SecretString;
  };

  let provider: ProviderCredential | undefined;
  if (env.CUBICLE_PROVIDER !== 'bedrock' && env.CUBICLE_PROVIDER_SECRET_ARN) {
    const text = await read(env.CUBICLE_PROVIDER_SECRET_ARN, `${env.CUBICLE_PROVIDER} provider`);
    if (isVaultPlaceholder(text)) {
      throw new Error(
        `no ${env.CUBICLE_PROVIDER} credential is stored yet: the employee stores one with PUT /v1/credentials/${env.CUBICLE_PROVIDER}`,
      );
    }
    provider = parseProviderCredential(env.CUBICLE_PROVIDER, text);
    redactor.addJson(provider.value);
  }

  const connections = new Map<string, string>();
  const connectionsWithoutCredential: string[] = [];
  for (const connection of env.CUBICLE_CONNECTIONS) {
    if (!connection.secretArn) continue;
    const value = await read(connection.secretArn, `connection "${connection.id}"`);
    // The placeholder is not a token: the connection runs without a credential rather than sending it.
    if (isVaultPlaceholder(value)) connectionsWithoutCredential.push(connection.id);
    else connections.set(connection.id, value);
  }
  return { provider, connections, connectionsWithoutCredential };
}
