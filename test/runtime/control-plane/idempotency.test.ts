import { RunTaskCommand } from '@aws-sdk/client-ecs';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiHandler, type ApiDeps } from '../../../runtime/control-plane/api';
import type { HttpResult } from '../../../runtime/control-plane/http';
import { IDEMPOTENCY_HEADER, IDEMPOTENCY_LOCK_MS } from '../../../runtime/control-plane/idempotency';
import { pairKey } from '../../../runtime/shared/tables';
import { ISSUER } from '../../support/tokens';
import { startDynamo, type TestDynamo } from '../../support/dynamo';
import { Clock, fakeEcs, httpEvent, inboxItems, apiDeps, rosterWithUser } from './support/fixtures';

let dynamo: TestDynamo;
beforeAll(async () => {
  dynamo = await startDynamo({ writer: 'api' });
});
afterAll(async () => {
  await dynamo.close();
});

let clock: Clock;
let fake: ReturnType<typeof fakeEcs>;
let deps: ApiDeps;
let counter = 0;
let user: string;
let api: ReturnType<typeof createApiHandler>;

beforeEach(() => {
  clock = new Clock();
  fake = fakeEcs();
  user = `idem${++counter}`;
  const roster = rosterWithUser(user, [
    { id: 'helper', provider: 'anthropic', providerSecret: true, secretConnections: [] },
  ]);
  deps = apiDeps(dynamo, fake.ecs, clock, ISSUER.authenticator(roster));
  api = createApiHandler(deps);
});

function post(text: string, key?: string): Promise<HttpResult> {
  const event = httpEvent('POST /v1/agents/{agentId}/messages', {
    user,
    pathParameters: { agentId: 'helper' },
    body: { text },
  });
  if (key !== undefined) event.headers[IDEMPOTENCY_HEADER] = key;
  return api(event);
}

const inbox = () => inboxItems(dynamo, pairKey(user, 'helper'));

describe('POST /v1/agents/{agentId}/messages with an Idempotency-Key', () => {
  it('20 parallel identical posts store exactly one message and all get the same answer', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => post('summarize my week', 'key-parallel-1')));
    const first = results[0];
    expect(first.statusCode).toBe(202);
    for (const result of results) {
      expect(result.statusCode).toBe(first.statusCode);
      expect(result.body).toBe(first.body);
    }
    const rows = await inbox();
    expect(rows).toHaveLength(1);
    expect(rows[0].sk).toBe(JSON.parse(first.body as string).messageId);
    // One wake, one task start: the retries did not wake the agent again.
    expect(fake.mock.commandCalls(RunTaskCommand)).toHaveLength(1);
  });

  it('a later retry returns the stored answer even after the agent changed state', async () => {
    const first = await post('hello', 'key-later');
    await post('another message without a key');
    clock.advance(60_000);
    const again = await post('hello', 'key-later');
    expect(again.statusCode).toBe(first.statusCode);
    expect(again.body).toBe(first.body);
    expect(await inbox()).toHaveLength(2);
  });

  it('the same key with a different body is a 422 naming the conflict, and stores nothing', async () => {
    await post('first text', 'key-conflict');
    const other = await post('second text', 'key-conflict');
    expect(other.statusCode).toBe(422);
    const body = JSON.parse(other.body as string);
    expect(body).toMatchObject({ conflict: 'idempotency-key-reused', idempotencyKey: 'key-conflict' });
    expect(body.message).toMatch(/Idempotency-Key "key-conflict" was already used with a different request/);
    expect(await inbox()).toHaveLength(1);
  });

  it('keys are per agent and per user: the same key elsewhere is a new request', async () => {
    await post('hello', 'shared-key');
    const alice = await api(
      Object.assign(
        httpEvent('POST /v1/agents/{agentId}/messages', {
          user: 'alice',
          pathParameters: { agentId: 'sales' },
          body: { text: 'hello' },
        }),
        {},
      ),
    );
    expect(alice.statusCode).toBe(202);
    expect(JSON.parse(alice.body as string).messageId).not.toBe(
      JSON.parse((await post('hello', 'shared-key')).body as string).messageId,
    );
  });

  it('refuses a malformed key with a 400 before storing anything', async () => {
    const bad = await post('hello', 'not a valid key!');
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body as string).message).toMatch(/Idempotency-Key header must be/);
    expect(await inbox()).toHaveLength(0);
  });

  it('a claim whose request died is taken over after its lock lapses, storing the message once', async () => {
    const first = await post('survive a crash', 'key-crash');
    const key = { pk: pairKey(user, 'helper'), sk: 'key-crash' };
    // Simulate a first request that died after storing the message but before its answer.
    await dynamo.seed.send(
      new UpdateCommand({
        TableName: dynamo.tables.idempotency,
        Key: key,
        UpdateExpression: 'REMOVE answer SET lockedUntil = :t',
        ExpressionAttributeValues: { ':t': clock.now() + IDEMPOTENCY_LOCK_MS },
      }),
    );
    clock.advance(IDEMPOTENCY_LOCK_MS + 1);
    const retry = await post('survive a crash', 'key-crash');
    expect(retry.statusCode).toBe(202);
    expect(JSON.parse(retry.body as string).messageId).toBe(JSON.parse(first.body as string).messageId);
    expect(await inbox()).toHaveLength(1);
    const row = await dynamo.doc.send(
      new GetCommand({ TableName: dynamo.tables.idempotency, Key: key, ConsistentRead: true }),
    );
    expect(row.Item?.answer?.statusCode).toBe(202);
  });

  it('without a key, two identical posts are two messages (as before)', async () => {
    await post('same');
    await post('same');
    expect(await inbox()).toHaveLength(2);
  });
});
