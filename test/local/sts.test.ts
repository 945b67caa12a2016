/**
 * Local mode's STS stand-in (local/sts/server.ts) with the real STS client, as a Bedrock agent's
 * supervisor calls it: only a Bedrock agent's task may assume the model invoker role, the session it gets
 * can read no secret and use no key, and it ends with the task.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DecryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, listenLoopback } from '../../local/aws/json-server';
import { localAuthorizer } from '../../local/aws/policy';
import { CredentialStore, type AccessKeys, type Principal } from '../../local/aws/principals';
import { localBedrockInvokerArn } from '../../local/ecs/task-definitions';
import { stsHandler } from '../../local/sts/server';
import { createVaultServer } from '../../local/vault/server';
import { LocalVault } from '../../local/vault/vault';
import { providerSecretName } from '../../runtime/shared/names';
import { exampleConfig } from '../support/example-config';

const config = exampleConfig();
const ROLE = localBedrockInvokerArn(config);
const TASK = 'arn:aws:ecs:eu-west-1:111111111111:task/acme-local/t1';
const credentials = new CredentialStore();
const clients: { destroy(): void }[] = [];
let dir: string;
let server: Server;
let endpoint: string;
let vault: LocalVault;

const agent = (userId: string, agentId: string): Principal => ({ kind: 'agent', userId, agentId, taskArn: TASK });
function sts(keys: AccessKeys): STSClient {
  const c = new STSClient({ endpoint, region: config.region, credentials: keys, maxAttempts: 1 });
  clients.push(c);
  return c;
}
const assume = (keys: AccessKeys, roleArn = ROLE, seconds = 3600) =>
  sts(keys).send(
    new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'bruno.research', DurationSeconds: seconds }),
  );

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cubicle-sts-'));
  vault = new LocalVault(dir, config);
  const bedrock = new Set(['bruno#research', 'chen#scout']);
  server = createVaultServer(
    vault,
    credentials,
    localAuthorizer(config.name),
    stsHandler({ credentials, invokerRoleArn: ROLE, isBedrockAgent: (u, a) => bedrock.has(`${u}#${a}`) }),
  );
  endpoint = await listenLoopback(server);
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await closeServer(server);
  rmSync(dir, { recursive: true, force: true });
});

describe('local STS: the model invoker role', () => {
  it("gives a Bedrock agent's task an hour-long session of new keys, named as STS names them", async () => {
    const before = Date.now();
    const out = await assume(credentials.issue(agent('bruno', 'research')));
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(out.Credentials?.SecretAccessKey).toBeTruthy();
    expect(out.Credentials?.SessionToken).toBeTruthy();
    expect(out.Credentials!.Expiration!.getTime()).toBeGreaterThanOrEqual(before + 3_599_000);
    expect(out.AssumedRoleUser?.Arn).toBe(
      `arn:aws:sts::${config.account}:assumed-role/acme-bedrock-invoker/bruno.research`,
    );
  });

  it("refuses other agents, functions, other roles and durations past the hour, each with STS's error", async () => {
    await expect(assume(credentials.issue(agent('alice', 'sales')))).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining('agent alice/sales is not authorized to perform: sts:AssumeRole'),
    });
    await expect(assume(credentials.issue({ kind: 'function', name: 'api' }))).rejects.toMatchObject({
      name: 'AccessDenied',
    });
    await expect(
      assume(credentials.issue(agent('bruno', 'research')), ROLE.replace('bedrock-invoker', 'credential-writer')),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    await expect(assume(credentials.issue(agent('bruno', 'research')), ROLE, 7200)).rejects.toMatchObject({
      name: 'ValidationError',
    });
    // A model session cannot assume the role again (it is not a task role).
    const session = (await assume(credentials.issue(agent('bruno', 'research')))).Credentials!;
    await expect(
      assume({ accessKeyId: session.AccessKeyId!, secretAccessKey: session.SecretAccessKey! }),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    // Unsigned or unknown keys are refused before anything else.
    await expect(assume({ accessKeyId: 'ASIAAAAAAAAAAAAAAAAA', secretAccessKey: 'nope' })).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
    });
  });

  it('gives a session that can read no secret and use no key, and that ends with its task', async () => {
    const task = credentials.issue(agent('bruno', 'research'));
    const session = (await assume(task)).Credentials!;
    const keys = { accessKeyId: session.AccessKeyId!, secretAccessKey: session.SecretAccessKey! };
    const secrets = new SecretsManagerClient({ endpoint, region: config.region, credentials: keys, maxAttempts: 1 });
    const kms = new KMSClient({ endpoint, region: config.region, credentials: keys, maxAttempts: 1 });
    clients.push(secrets, kms);
    const docs = vault.secretRefs('alice')[0].arn; // any secret: a model session reads none
    await expect(secrets.send(new GetSecretValueCommand({ SecretId: docs }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('model session of bruno/research'),
    });
    await expect(
      secrets.send(new GetSecretValueCommand({ SecretId: providerSecretName(config.name, 'bruno', 'anthropic') })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(
      kms.send(new DecryptCommand({ CiphertextBlob: Buffer.alloc(64), KeyId: vault.userKeyArn('bruno') })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    credentials.revokeTask(TASK);
    await expect(assume(task)).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    await expect(secrets.send(new GetSecretValueCommand({ SecretId: docs }))).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
    });
  });
});
