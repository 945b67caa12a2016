import { Logger } from '@aws-lambda-powertools/logger';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readEvents } from '../../../runtime/shared/event-log';
import { pairKey } from '../../../runtime/shared/tables';
import { VAULT_PLACEHOLDER } from '../../../runtime/shared/vault';
import { startDynamo, type TestDynamo } from '../../support/dynamo';
import { createCredentialsHandler, MAX_CREDENTIAL_CHARS } from '../../../runtime/control-plane/credentials';
import { connectionSecretName, providerSecretName } from '../../../runtime/shared/names';
import { AUTH, httpEvent } from './support/fixtures';
import { TEST_CHAIN } from '../../support/chain-key';

const SECRET = 'sk-ant-api03-TOP-SECRET-0123456789abcdefghijklmnopqrstuvwxyz';

let dynamo: TestDynamo;
beforeAll(async () => {
  dynamo = await startDynamo({ writer: 'credentials' });
});
afterAll(async () => {
  await dynamo.close();
});

/** Captures every byte written to stdout and stderr (the Lambda log stream) while a test runs. */
function captureOutput() {
  const chunks: string[] = [];
  const original = { out: process.stdout.write, err: process.stderr.write };
  const tap = (stream: NodeJS.WriteStream, write: typeof process.stdout.write) =>
    ((chunk: unknown, ...rest: unknown[]) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (write as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
    }) as typeof process.stdout.write;
  process.stdout.write = tap(process.stdout, original.out);
  process.stderr.write = tap(process.stderr, original.err);
  return {
    text: () => chunks.join(''),
    restore: () => {
      process.stdout.write = original.out;
      process.stderr.write = original.err;
    },
  };
}

let secrets: SecretsManagerClient;
let mock: ReturnType<typeof mockClient>;
let logger: Logger;
let handler: ReturnType<typeof createCredentialsHandler>;
let output: ReturnType<typeof captureOutput>;

beforeEach(() => {
  output = captureOutput();
  secrets = new SecretsManagerClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  mock = mockClient(secrets);
  mock.on(PutSecretValueCommand).resolves({});
  // The most verbose level, so anything the code path could log is in the capture.
  logger = new Logger({ serviceName: 'credentials', logLevel: 'DEBUG' });
  handler = createCredentialsHandler({
    auth: AUTH,
    secrets,
    deployment: 'acme',
    logger,
    events: { doc: dynamo.doc, table: dynamo.tables.events, chain: TEST_CHAIN, now: Date.now },
  });
});
afterEach(() => output.restore());

const provider = (user: string, name: string, body: unknown) =>
  httpEvent('PUT /v1/credentials/{provider}', { user, pathParameters: { provider: name }, body });
const connection = (user: string, name: string, body: unknown) =>
  httpEvent('PUT /v1/connections/{connection}/credential', { user, pathParameters: { connection: name }, body });

describe('credential writer', () => {
  it("writes the caller's own provider and connection secrets", async () => {
    expect((await handler(provider('alice', 'anthropic', { value: SECRET }))).statusCode).toBe(204);
    expect((await handler(connection('alice', 'bank-feed', { value: SECRET }))).statusCode).toBe(204);
    expect(mock.commandCalls(PutSecretValueCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: providerSecretName('acme', 'alice', 'anthropic'), SecretString: SECRET },
      { SecretId: connectionSecretName('acme', 'alice', 'bank-feed'), SecretString: SECRET },
    ]);
  });

  it("answers 404 for a provider or connection none of the caller's agents uses, and never writes another user's secret", async () => {
    const refused = [
      provider('bruno', 'anthropic', { value: SECRET }), // bruno has no anthropic agent (alice does)
      provider('bruno', 'bedrock', { value: SECRET }), // bedrock keeps no secret
      provider('alice', 'nope', { value: SECRET }),
      connection('bruno', 'crm', { value: SECRET }), // alice's connection
      connection('alice', 'docs', { value: SECRET }), // not one of alice's agents' secret connections
    ];
    for (const event of refused) {
      const result = await handler(event);
      expect(result.statusCode).toBe(404);
      expect(JSON.parse(result.body as string).message).toMatch(/None of your agents/);
    }
    expect(mock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('answers 4xx JSON to bad bodies', async () => {
    const bad: Array<[unknown, number]> = [
      [undefined, 400],
      [{}, 400],
      [{ value: '' }, 400],
      [{ value: 'x'.repeat(MAX_CREDENTIAL_CHARS + 1) }, 400],
      [{ value: SECRET, user: 'bruno' }, 400],
      [{ value: 7 }, 400],
    ];
    for (const [body, status] of bad) {
      const result = await handler(provider('alice', 'anthropic', body));
      expect(result.statusCode).toBe(status);
      expect(JSON.parse(result.body as string)).toMatchObject({
        message: expect.any(String),
        requestId: expect.any(String),
      });
    }
    expect(
      (
        await handler(
          httpEvent('PUT /v1/credentials/{provider}', {
            user: 'alice',
            pathParameters: { provider: 'anthropic' },
            rawBody: `{"value":"${SECRET}"`,
          }),
        )
      ).statusCode,
    ).toBe(400);
    expect(mock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('answers 404 when the fleet has not created the secret yet', async () => {
    mock.on(PutSecretValueCommand).rejects(
      Object.assign(new Error("Secrets Manager can't find the specified secret."), {
        name: 'ResourceNotFoundException',
      }),
    );
    const result = await handler(provider('alice', 'openai', { value: SECRET }));
    expect(result.statusCode).toBe(404);
    expect(JSON.parse(result.body as string).message).toMatch(/platform team/);
  });

  it('a credential never appears in the captured log bytes, on success or on any failure', async () => {
    await handler(provider('alice', 'anthropic', { value: SECRET }));
    await handler(provider('alice', 'anthropic', { value: SECRET, extra: SECRET }));
    await handler(
      httpEvent('PUT /v1/credentials/{provider}', {
        user: 'alice',
        pathParameters: { provider: 'anthropic' },
        rawBody: `{"value":"${SECRET}"`,
      }),
    );
    await handler(provider('bruno', 'anthropic', { value: SECRET }));
    await handler(provider('mallory', 'anthropic', { value: SECRET }));
    mock.on(PutSecretValueCommand).rejects(
      Object.assign(new Error('User is not authorized to perform secretsmanager:PutSecretValue'), {
        name: 'AccessDeniedException',
      }),
    );
    const failed = await handler(provider('alice', 'anthropic', { value: SECRET }));
    expect(failed.statusCode).toBe(500);
    expect(Object.keys(JSON.parse(failed.body as string)).sort()).toEqual(['message', 'requestId']);

    const logged = output.text();
    // The capture works: the request lines with user and request ids are there.
    expect(logged).toMatch(/"user_id":"alice"/);
    expect(logged).toMatch(/"request_id":"req-\d+"/);
    expect(logged).toMatch(/"message":"request failed"/);
    // And no fragment of the credential is.
    expect(logged).not.toContain(SECRET);
    expect(logged).not.toContain('TOP-SECRET');
    expect(logged).not.toContain('sk-ant-api03');
    // Nor is it echoed to the caller.
    expect(failed.body).not.toContain('TOP-SECRET');
  });
});

describe('credential checks and revocation', () => {
  const revokeProvider = (user: string, name: string) =>
    httpEvent('DELETE /v1/credentials/{provider}', { user, pathParameters: { provider: name } });
  const revokeConnection = (user: string, name: string) =>
    httpEvent('DELETE /v1/connections/{connection}/credential', { user, pathParameters: { connection: name } });

  it('refuses a provider credential the runtime could not use (wrong kind, bad JSON), before writing, without echoing it', async () => {
    const bad = [
      JSON.stringify({ kind: 'oauth-token', value: SECRET }), // openai takes api-key or access-token
      JSON.stringify({ kind: 'api-key' }),
      `{"kind":"api-key","value":"${SECRET}"`,
      JSON.stringify({ kind: 'api-key', value: SECRET, extra: 1 }),
    ];
    for (const value of bad) {
      const result = await handler(provider('alice', 'openai', { value }));
      expect(result.statusCode, value).toBe(400);
      expect(result.body).not.toContain('TOP-SECRET');
      expect(JSON.parse(result.body as string).message).toMatch(/^Invalid body: value /);
    }
    expect(mock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    // The kinds the runtime accepts pass: a bare key, and { kind, value } JSON.
    expect((await handler(provider('alice', 'openai', { value: SECRET }))).statusCode).toBe(204);
    expect(
      (await handler(provider('alice', 'openai', { value: JSON.stringify({ kind: 'access-token', value: SECRET }) })))
        .statusCode,
    ).toBe(204);
    expect(mock.commandCalls(PutSecretValueCommand)).toHaveLength(2);
  });

  it("DELETE puts the placeholder back and records credential.revoked on every agent that used it; another user's is a 404", async () => {
    expect((await handler(revokeConnection('alice', 'crm'))).statusCode).toBe(204);
    expect((await handler(revokeProvider('alice', 'anthropic'))).statusCode).toBe(204);
    expect(mock.commandCalls(PutSecretValueCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: connectionSecretName('acme', 'alice', 'crm'), SecretString: VAULT_PLACEHOLDER },
      { SecretId: providerSecretName('acme', 'alice', 'anthropic'), SecretString: VAULT_PLACEHOLDER },
    ]);
    const sales = await readEvents(dynamo.doc, dynamo.tables.events, pairKey('alice', 'sales'));
    expect(sales.filter((e) => e.type === 'credential.revoked').map((e) => e.data)).toEqual([
      { kind: 'connection', id: 'crm' },
      { kind: 'provider', id: 'anthropic' },
    ]);
    expect(
      (await readEvents(dynamo.doc, dynamo.tables.events, pairKey('alice', 'finance'))).filter(
        (e) => e.type === 'credential.revoked',
      ),
    ).toEqual([]);
    for (const event of [
      revokeProvider('bruno', 'anthropic'),
      revokeConnection('bruno', 'crm'),
      revokeProvider('bruno', 'bedrock'),
    ]) {
      expect((await handler(event)).statusCode).toBe(404);
    }
    expect(mock.commandCalls(PutSecretValueCommand)).toHaveLength(2);
  });
});
