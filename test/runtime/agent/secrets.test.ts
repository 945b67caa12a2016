import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { loadSecrets } from '../../../runtime/agent/src/secrets';
import type { AgentEnv } from '../../../runtime/shared/agent-env';
import { Redactor } from '../../../runtime/shared/redact';
import { VAULT_PLACEHOLDER } from '../../../runtime/shared/vault';

const ARN = (name: string) => `arn:aws:secretsmanager:eu-west-1:111111111111:secret:cubicle/acme/alice/${name}-AbCdEf`;

function envWith(overrides: Partial<AgentEnv>): AgentEnv {
  return {
    CUBICLE_PROVIDER: 'anthropic',
    CUBICLE_PROVIDER_SECRET_ARN: ARN('provider/anthropic'),
    CUBICLE_CONNECTIONS: [
      { id: 'crm', hosts: ['crm.example.com'], secretArn: ARN('connection/crm') },
      { id: 'bank', hosts: ['api.bank.example'], secretArn: ARN('connection/bank') },
    ],
    ...overrides,
  } as AgentEnv;
}

function secretsManager(values: Record<string, string>): SecretsManagerClient {
  const client = new SecretsManagerClient({ region: 'eu-west-1' });
  const mock = mockClient(client);
  for (const [arn, value] of Object.entries(values))
    mock.on(GetSecretValueCommand, { SecretId: arn }).resolves({ SecretString: value });
  return client;
}

describe('the vault placeholder (a secret nobody has stored a credential in yet)', () => {
  it('is never taken for a provider credential: startup names what the employee must do', async () => {
    const client = secretsManager({ [ARN('provider/anthropic')]: VAULT_PLACEHOLDER });
    await expect(loadSecrets(client, envWith({}), new Redactor())).rejects.toThrow(
      'no anthropic credential is stored yet: the employee stores one with PUT /v1/credentials/anthropic',
    );
  });

  it('is never handed to a tool as a connection token; stored connection credentials are', async () => {
    const client = secretsManager({
      [ARN('provider/anthropic')]: JSON.stringify({ kind: 'api-key', value: `sk-ant-${'x'.repeat(30)}` }),
      [ARN('connection/crm')]: VAULT_PLACEHOLDER,
      [ARN('connection/bank')]: 'bank-token-123456',
    });
    const loaded = await loadSecrets(client, envWith({}), new Redactor());
    expect([...loaded.connections]).toEqual([['bank', 'bank-token-123456']]);
    expect(loaded.connectionsWithoutCredential).toEqual(['crm']);
  });
});
