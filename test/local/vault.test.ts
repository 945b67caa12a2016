/**
 * The vault stand-in (Secrets Manager + KMS) at the protocol level, with the real SDK clients and the
 * AWS code that calls it (the agent's secret loader, the origin-secret fetcher, the credential writer's
 * PutSecretValue): who may read and write which secret, versions, and that nothing is stored in plaintext.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
} from '@aws-sdk/client-kms';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSecrets } from '../../runtime/agent/src/secrets';
import { kmsChainKey } from '../../runtime/shared/chain-key';
import { originSecretFetcher } from '../../runtime/control-plane/aws/origin-secret';
import { AGENT_ENV_SCHEMA } from '../../runtime/shared/agent-env';
import { connectionSecretName, providerSecretName, userKeyAlias } from '../../runtime/shared/names';
import { Redactor } from '../../runtime/shared/redact';
import { VAULT_PLACEHOLDER } from '../../runtime/shared/vault';
import { closeServer, listenLoopback } from '../../local/aws/json-server';
import { localAuthorizer, type Authorizer } from '../../local/aws/policy';
import { CredentialStore, type AccessKeys, type Principal } from '../../local/aws/principals';
import { taskDefinitions } from '../../local/ecs/task-definitions';
import { createVaultServer } from '../../local/vault/server';
import { LocalVault } from '../../local/vault/vault';
import { exampleConfig } from '../support/example-config';
import { filesUnder } from './support';

const config = exampleConfig();
const credentials = new CredentialStore();
const clients: { destroy(): void }[] = [];
let dir: string;
let vault: LocalVault;
let server: Server;
let endpoint: string;

async function serve(authorizer: Authorizer): Promise<{ server: Server; endpoint: string }> {
  const s = createVaultServer(vault, credentials, authorizer);
  return { server: s, endpoint: await listenLoopback(s) };
}

function secrets(principal: Principal, at = endpoint): SecretsManagerClient {
  const c = new SecretsManagerClient({
    endpoint: at,
    region: 'eu-west-1',
    credentials: credentials.issue(principal),
    maxAttempts: 1,
  });
  clients.push(c);
  return c;
}

function kms(keys: AccessKeys, at: string): KMSClient {
  const c = new KMSClient({ endpoint: at, region: 'eu-west-1', credentials: keys, maxAttempts: 1 });
  clients.push(c);
  return c;
}

const agent = (userId: string, agentId: string): Principal => ({
  kind: 'agent',
  userId,
  agentId,
  taskArn: 'arn:aws:ecs:eu-west-1:111111111111:task/acme-local/x',
});
const arnOf = (name: string) => vault.secretRefs(name.split('/')[2]).find((r) => r.spec.name === name)!.arn;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cubicle-vault-'));
  vault = new LocalVault(dir, config);
  ({ server, endpoint } = await serve(localAuthorizer(config.name)));
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await closeServer(server);
  rmSync(dir, { recursive: true, force: true });
});

describe('vault stand-in', () => {
  it('creates each user the secrets the fleet creates, with the placeholder, under a key of their own', () => {
    const names = vault.secretRefs('alice').map((r) => r.spec.name);
    expect(names).toEqual([
      connectionSecretName('acme', 'alice', 'bank-feed'),
      connectionSecretName('acme', 'alice', 'crm'),
      providerSecretName('acme', 'alice', 'anthropic'),
      providerSecretName('acme', 'alice', 'openai'),
    ]);
    for (const ref of vault.secretRefs('alice')) {
      expect(ref.arn).toMatch(
        new RegExp(`^arn:aws:secretsmanager:eu-west-1:111111111111:secret:${ref.spec.name}-[A-Za-z0-9]{6}$`),
      );
      expect(vault.secrets.get(ref.spec.name).value).toBe(VAULT_PLACEHOLDER);
    }
    expect(vault.kms.resolve(userKeyAlias('acme', 'alice')).keyId).not.toBe(
      vault.kms.resolve(userKeyAlias('acme', 'bruno')).keyId,
    );
  });

  it('lets the credential writer store a credential that only the agents using it can read', async () => {
    const value = `zq-${randomBytes(16).toString('hex')}`;
    const writer = secrets({ kind: 'function', name: 'credentials' });
    const crm = connectionSecretName('acme', 'alice', 'crm');
    await writer.send(new PutSecretValueCommand({ SecretId: crm, SecretString: value }));

    // alice/sales uses crm; alice/finance does not; chen/ops uses crm too, but chen's own secret.
    expect(
      (await secrets(agent('alice', 'sales')).send(new GetSecretValueCommand({ SecretId: arnOf(crm) }))).SecretString,
    ).toBe(value);
    for (const other of [agent('alice', 'finance'), agent('chen', 'ops'), agent('bruno', 'research')]) {
      await expect(secrets(other).send(new GetSecretValueCommand({ SecretId: arnOf(crm) }))).rejects.toMatchObject({
        name: 'AccessDeniedException',
      });
    }
    // The writer writes but never reads; the API function reads only the origin secret.
    await expect(writer.send(new GetSecretValueCommand({ SecretId: crm }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    await expect(
      secrets({ kind: 'function', name: 'api' }).send(new GetSecretValueCommand({ SecretId: crm })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    // Agents never write, and the writer writes only this deployment's secrets (never the origin secret).
    await expect(
      secrets(agent('alice', 'sales')).send(new PutSecretValueCommand({ SecretId: crm, SecretString: 'x' })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(
      writer.send(new PutSecretValueCommand({ SecretId: vault.originSecretArn, SecretString: 'x' })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    // A secret the fleet has not created is not found (the credential writer answers 404 for it).
    await expect(
      writer.send(new PutSecretValueCommand({ SecretId: 'cubicle/acme/dana/provider/anthropic', SecretString: 'x' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('serves the agent its own secrets through the runtime loader, from the environment its task definition sets', async () => {
    const writer = secrets({ kind: 'function', name: 'credentials' });
    const key = `zq-provider-${randomBytes(8).toString('hex')}`;
    await writer.send(
      new PutSecretValueCommand({ SecretId: providerSecretName('acme', 'alice', 'anthropic'), SecretString: key }),
    );
    const definition = taskDefinitions(config, (u) => vault.secretRefs(u), {
      relayUrl: 'ws://127.0.0.1:1/runtime',
      userKeyArn: (u) => vault.userKeyArn(u),
    }).get('acme-alice_sales')!;
    const env = AGENT_ENV_SCHEMA.parse(definition.environment);
    const loaded = await loadSecrets(secrets(agent('alice', 'sales')), env, new Redactor());
    expect(loaded.provider).toEqual({ kind: 'api-key', value: key });
    expect([...loaded.connections.keys()]).toEqual(['crm']);
    // Another agent's environment names other secrets, and its principal could not read these anyway.
    await expect(loadSecrets(secrets(agent('alice', 'finance')), env, new Redactor())).rejects.toThrow(
      /AccessDeniedException/,
    );
  });

  it('keeps the previous version, as the origin check needs during a rotation', async () => {
    const fetch = originSecretFetcher(secrets({ kind: 'function', name: 'api' }), vault.originSecretArn);
    const [first] = await fetch();
    expect(first).toBe(vault.originHeaderValue());
    expect(await fetch()).toEqual([first]);
    vault.secrets.put(vault.access(vault.secrets.nameOf(vault.originSecretArn)!).name, 'rotated-value');
    expect(await fetch()).toEqual(['rotated-value', first]);
  });

  it('writes no secret value to disk in plaintext, and nothing decrypts after tampering', async () => {
    const canary = `zq-canary-${randomBytes(16).toString('hex')}`;
    const name = providerSecretName('acme', 'bruno', 'google');
    await secrets({ kind: 'function', name: 'credentials' }).send(
      new PutSecretValueCommand({ SecretId: name, SecretString: canary }),
    );
    const files = filesUnder(dir);
    for (const form of [canary, Buffer.from(canary).toString('base64'), Buffer.from(canary).toString('hex')]) {
      expect(files.filter((f) => readFileSync(f).includes(form))).toEqual([]);
    }
    // A restart (a new vault on the same directory) reads the same value and keeps the ARNs.
    const again = new LocalVault(dir, config);
    expect(again.secrets.get(name).value).toBe(canary);
    expect(again.secretRefs('bruno')).toEqual(vault.secretRefs('bruno'));

    // Flip one bit of the stored ciphertext: GCM's tag refuses it.
    const file = files.find((f) => readFileSync(f, 'utf8').includes(`"name":"${name}"`))!;
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    const current = stored.versions.find((v: { stages: string[] }) => v.stages.includes('AWSCURRENT'));
    const bytes = Buffer.from(current.ciphertext, 'base64');
    bytes[0] ^= 1;
    current.ciphertext = bytes.toString('base64');
    writeFileSync(file, JSON.stringify(stored));
    expect(() => again.secrets.get(name)).toThrow();
  });

  it('gives no principal direct KMS use (all key use is through Secrets Manager), like the stacks', async () => {
    const api = kms(credentials.issue({ kind: 'function', name: 'api' }), endpoint);
    const key = userKeyAlias('acme', 'alice');
    await expect(api.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('x') }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    const sales = kms(credentials.issue(agent('alice', 'sales')), endpoint);
    await expect(sales.send(new GenerateDataKeyCommand({ KeyId: key, KeySpec: 'AES_256' }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });

  it('answers the KMS calls AWS code makes (Encrypt, Decrypt, GenerateDataKey, DescribeKey) for a granted principal', async () => {
    const granted: Authorizer = { ...localAuthorizer('acme'), key: (p) => p.kind === 'function' && p.name === 'api' };
    const open = await serve(granted);
    try {
      const client = kms(credentials.issue({ kind: 'function', name: 'api' }), open.endpoint);
      const key = userKeyAlias('acme', 'alice');
      const context = { purpose: 'message', pair: 'alice#sales' };
      const sealed = await client.send(
        new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('hello'), EncryptionContext: context }),
      );
      const { KeyMetadata } = await client.send(new DescribeKeyCommand({ KeyId: key }));
      expect(sealed.KeyId).toBe(KeyMetadata?.Arn);
      const opened = await client.send(
        new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: context }),
      );
      expect(Buffer.from(opened.Plaintext!).toString()).toBe('hello');
      await expect(
        client.send(
          new DecryptCommand({
            CiphertextBlob: sealed.CiphertextBlob,
            EncryptionContext: { ...context, pair: 'bruno#research' },
          }),
        ),
      ).rejects.toMatchObject({
        name: 'InvalidCiphertextException',
      });
      await expect(
        client.send(
          new DecryptCommand({
            CiphertextBlob: sealed.CiphertextBlob,
            EncryptionContext: context,
            KeyId: userKeyAlias('acme', 'bruno'),
          }),
        ),
      ).rejects.toMatchObject({
        name: 'IncorrectKeyException',
      });
      const dataKey = await client.send(
        new GenerateDataKeyCommand({ KeyId: key, KeySpec: 'AES_256', EncryptionContext: context }),
      );
      expect(dataKey.Plaintext).toHaveLength(32);
      const unwrapped = await client.send(
        new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob, EncryptionContext: context }),
      );
      expect(Buffer.from(unwrapped.Plaintext!).equals(Buffer.from(dataKey.Plaintext!))).toBe(true);
      await expect(
        client.send(new EncryptCommand({ KeyId: 'alias/none', Plaintext: Buffer.from('x') })),
      ).rejects.toMatchObject({ name: 'NotFoundException' });
    } finally {
      await closeServer(open.server);
    }
  });
});

describe('the audit chain key in the local vault', () => {
  it('lets the event appenders GenerateMac (HMAC-SHA256, as KMS), and nobody else; a user key makes no MAC, the chain key encrypts nothing', async () => {
    const chainKey = (principal: Principal) =>
      kmsChainKey(kms(credentials.issue(principal), endpoint), vault.chainKeyArn);
    const digest = randomBytes(32);
    const macs = await Promise.all(
      (['api', 'credentials', 'task-events', 'reaper', 'launcher'] as const).map((name) =>
        chainKey({ kind: 'function', name }).mac(digest),
      ),
    );
    macs.push(await chainKey({ kind: 'relay', name: 'relay-runtime' }).mac(digest));
    expect(new Set(macs).size).toBe(1);
    expect(macs[0]).toMatch(/^[0-9a-f]{64}$/);
    for (const principal of [
      agent('alice', 'sales'),
      { kind: 'relay', name: 'relay-device' } as Principal,
      { kind: 'relay', name: 'relay-fanout' } as Principal,
    ]) {
      await expect(chainKey(principal).mac(digest)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    }
    const api = kms(credentials.issue({ kind: 'function', name: 'api' }), endpoint);
    await expect(kmsChainKey(api, vault.userKeyArn('alice')).mac(digest)).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    await expect(
      api.send(new EncryptCommand({ KeyId: vault.chainKeyArn, Plaintext: Buffer.from('x') })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    // The MAC is the key's: the same digest under the vault's key material, checked without KMS.
    expect(vault.kms.generateMac(vault.chainKeyArn, digest).toString('hex')).toBe(macs[0]);
    expect(() => vault.kms.verifyMac(vault.chainKeyArn, digest, Buffer.alloc(32))).toThrow(/not valid/);
  });
});
