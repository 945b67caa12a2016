import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AgentEnv } from '../../shared/agent-env';
import { parseProviderCredential, type ProviderCredential } from '../../shared/provider-credentials';
import type { Redactor } from '../../shared/redact';

export interface LoadedSecrets {
  /** Absent for bedrock. */
  readonly provider?: ProviderCredential;
  /** Connection id → secret value, for connections that have one. */
  readonly connections: ReadonlyMap<string, string>;
}

/**
 * Reads the agent's secrets into memory. Each value is registered with the redactor before anything
 * else can see it; errors carry the connection id or provider, never the value or the ARN's contents.
 */
export async function loadSecrets(client: SecretsManagerClient, env: AgentEnv, redactor: Redactor): Promise<LoadedSecrets> {
  const read = async (arn: string, what: string): Promise<string> => {
    let out;
    try {
      out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    } catch (error) {
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
    provider = parseProviderCredential(env.CUBICLE_PROVIDER, text);
    redactor.addJson(provider.value);
  }

  const connections = new Map<string, string>();
  for (const connection of env.CUBICLE_CONNECTIONS) {
    if (!connection.secretArn) continue;
    connections.set(connection.id, await read(connection.secretArn, `connection "${connection.id}"`));
  }
  return { provider, connections };
}
