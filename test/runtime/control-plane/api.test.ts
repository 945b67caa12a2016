import type { InboxRow, ApprovalRow } from '../../../runtime/shared/rows';
import { RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openInboxBody, sealApproval } from '../../../runtime/shared/sealed-rows';
import { createApiHandler, MAX_MESSAGE_CHARS, type ApiDeps } from '../../../runtime/control-plane/api';
import type { HttpResult } from '../../../runtime/control-plane/http';
import { getSession } from '../../../runtime/control-plane/lifecycle';
import { applyTaskEvent } from '../../../runtime/control-plane/task-events';
import { Roster } from '../../../runtime/control-plane/roster';
import { EventLog, readEvents } from '../../../runtime/shared/event-log';
import { verifyChain } from '../../../runtime/shared/event-chain';
import { STARTED_BY } from '../../../runtime/shared/names';
import { newSortableId } from '../../../runtime/shared/rows';
import { pairKey } from '../../../runtime/shared/tables';
import { startDynamo, type TestDynamo } from '../../support/dynamo';
import {
  TEST_CLUSTER_ARN,
  Clock,
  DIRECTORY,
  fakeEcs,
  httpEvent,
  sharedUserKeys,
  taskDefinitionArnOf,
  inboxItems,
  apiDeps,
  rosterWithUser,
} from './support/fixtures';
import { ISSUER, TestIssuer } from '../../support/tokens';
import { TEST_CHAIN } from '../../support/chain-key';

let dynamo: TestDynamo;
beforeAll(async () => {
  dynamo = await startDynamo({ writer: 'api' });
});
afterAll(async () => {
  await dynamo.close();
});

let fake: ReturnType<typeof fakeEcs>;
let clock: Clock;
let deps: ApiDeps;
let api: ReturnType<typeof createApiHandler>;
beforeEach(() => {
  fake = fakeEcs();
  clock = new Clock();
  deps = apiDeps(dynamo, fake.ecs, clock);
  api = createApiHandler(deps);
});

function body(result: HttpResult): Record<string, any> {
  return JSON.parse(result.body as string);
}

const inbox = (pk: string) => inboxItems(dynamo, pk);

/** Alice's agents have their own partitions per test run: reset them by using fresh roster users. */
let userCounter = 0;
function freshUser(): { api: ReturnType<typeof createApiHandler>; user: string } {
  const user = `user${++userCounter}`;
  const roster = rosterWithUser(user, [
    { id: 'helper', provider: 'anthropic', providerSecret: true, secretConnections: [] },
  ]);
  return { api: createApiHandler({ ...deps, auth: ISSUER.authenticator(roster) }), user };
}

describe('identity', () => {
  it('answers 403 to a verified token of someone not on the roster, and 401 without a token', async () => {
    const stranger = await api(httpEvent('GET /v1/agents', { user: 'mallory' }));
    expect(stranger.statusCode).toBe(403);
    expect(body(stranger).message).toMatch(/not on the Cubicle roster/);
    const anonymous = await api(httpEvent('GET /v1/agents'));
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers?.['www-authenticate']).toBe('Bearer');
  });

  it("takes the user from the token only: path, query, body, headers and the authorizer's claims cannot name another user", async () => {
    const event = httpEvent('GET /v1/agents', { user: 'bruno', query: { user: 'alice' } });
    event.headers['x-user-id'] = 'alice';
    const result = await api(event);
    expect(result.statusCode).toBe(400); // unknown query parameters are refused, never used
    const plain = await api(httpEvent('GET /v1/agents', { user: 'bruno' }));
    expect(body(plain).agents.map((a: { agentId: string }) => a.agentId)).toEqual(['research', 'writer']);
    // Bruno's token with Alice's claims in the authorizer context: Bruno's agents.
    const mixed = await api(
      httpEvent('GET /v1/agents', {
        user: 'bruno',
        claims: { sub: 'sub-alice', username: 'alice', token_use: 'access' },
      }),
    );
    expect(body(mixed).agents.map((a: { agentId: string }) => a.agentId)).toEqual(['research', 'writer']);
  });

  it('a direct invoke with made-up authorizer claims and no token (or a forged one) is a 401', async () => {
    const claims = { sub: 'sub-alice', username: 'alice', token_use: 'access' };
    const forged = new TestIssuer(ISSUER.settings, ISSUER.kid).tokenFor('alice'); // same kid, another key
    for (const event of [
      httpEvent('GET /v1/agents', { claims }),
      httpEvent('GET /v1/agents', { claims, token: forged }),
    ]) {
      const result = await api(event);
      expect(result.statusCode).toBe(401);
      expect(result.body).not.toMatch(/sales|finance/);
    }
  });

  it("maps an external OIDC issuer's email claim to the roster, case-insensitively, and refuses unverified emails", async () => {
    const issuer = TestIssuer.oidc();
    const oidc = createApiHandler({
      ...deps,
      auth: issuer.authenticator(new Roster({ ...DIRECTORY, identity: { kind: 'oidc', claim: 'email' } })),
    });
    const ok = await oidc(
      httpEvent('GET /v1/agents', {
        token: issuer.mint({ sub: 'x', email: 'Bruno@ACME.example', email_verified: true }),
      }),
    );
    expect(body(ok).agents.map((a: { agentId: string }) => a.agentId)).toEqual(['research', 'writer']);
    const unverified = await oidc(
      httpEvent('GET /v1/agents', {
        token: issuer.mint({ sub: 'x', email: 'bruno@acme.example', email_verified: false }),
      }),
    );
    expect(unverified.statusCode).toBe(403);
    const usernameOnly = await oidc(
      httpEvent('GET /v1/agents', { token: issuer.mint({ sub: 'x', username: 'bruno' }) }),
    );
    expect(usernameOnly.statusCode).toBe(403);
    // A Cognito token is not one of this issuer's.
    expect((await oidc(httpEvent('GET /v1/agents', { user: 'bruno' }))).statusCode).toBe(401);
  });
});

describe('cross-user isolation', () => {
  it("a user never lists, reads, wakes, sleeps, messages or reads events of another user's agent", async () => {
    // Alice's agent has a session, messages and events.
    await api(
      httpEvent('POST /v1/agents/{agentId}/messages', {
        user: 'alice',
        pathParameters: { agentId: 'sales' },
        body: { text: 'hello' },
      }),
    );
    const runTasks = fake.mock.commandCalls(RunTaskCommand).length;
    const aliceInbox = (await inbox(pairKey('alice', 'sales'))).length;

    const list = await api(httpEvent('GET /v1/agents', { user: 'bruno' }));
    expect(JSON.stringify(body(list))).not.toMatch(/sales|finance|alice/);

    const unknown = await api(
      httpEvent('GET /v1/agents/{agentId}', { user: 'bruno', pathParameters: { agentId: 'nope' } }),
    );
    const attempts = [
      httpEvent('GET /v1/agents/{agentId}', { user: 'bruno', pathParameters: { agentId: 'sales' } }),
      httpEvent('POST /v1/agents/{agentId}/wake', { user: 'bruno', pathParameters: { agentId: 'sales' } }),
      httpEvent('POST /v1/agents/{agentId}/sleep', { user: 'bruno', pathParameters: { agentId: 'sales' } }),
      httpEvent('POST /v1/agents/{agentId}/messages', {
        user: 'bruno',
        pathParameters: { agentId: 'sales' },
        body: { text: 'let me in' },
      }),
      httpEvent('GET /v1/agents/{agentId}/events', { user: 'bruno', pathParameters: { agentId: 'sales' } }),
    ];
    for (const event of attempts) {
      const result = await api(event);
      expect(result.statusCode, event.routeKey).toBe(404);
      // Indistinguishable from an agent that does not exist.
      expect({ ...body(result), requestId: undefined }).toEqual({ ...body(unknown), requestId: undefined });
    }
    expect(fake.mock.commandCalls(RunTaskCommand)).toHaveLength(runTasks);
    expect(fake.mock.commandCalls(StopTaskCommand)).toHaveLength(0);
    expect(await inbox(pairKey('alice', 'sales'))).toHaveLength(aliceInbox);
    expect(await inbox(pairKey('bruno', 'sales'))).toHaveLength(0);
  });

  it("a user cannot decide another user's approval, even knowing its id", async () => {
    const approvalId = await pendingApproval(pairKey('alice', 'sales'));
    const result = await api(
      httpEvent('POST /v1/approvals/{id}', {
        user: 'bruno',
        pathParameters: { id: approvalId },
        body: { agentId: 'sales', decision: 'approve' },
      }),
    );
    expect(result.statusCode).toBe(404);
    const own = await api(
      httpEvent('POST /v1/approvals/{id}', {
        user: 'alice',
        pathParameters: { id: approvalId },
        body: { agentId: 'sales', decision: 'approve' },
      }),
    );
    expect(own.statusCode).toBe(200);
  });
});

async function pendingApproval(pk: string, over: Partial<ApprovalRow> = {}): Promise<string> {
  const id = newSortableId(clock.t);
  const row: ApprovalRow = {
    pk,
    sk: id,
    requestId: 'runtime-req',
    messageId: 'msg-1',
    tool: 'WebFetch',
    summary: 'GET https://api.example.com/x',
    hosts: ['api.example.com'],
    createdAt: clock.t,
    expiresAt: clock.t + 10 * 60_000,
    ...over,
  };
  // Stored as the relay stores it: summary and hosts sealed under the user's key.
  await dynamo.seed.send(
    new PutCommand({ TableName: dynamo.tables.approvals, Item: await sealApproval(sharedUserKeys().sealer, row) }),
  );
  return id;
}

describe('messages and lifecycle routes', () => {
  it('a message to a sleeping agent is stored and wakes it', async () => {
    const { api: userApi, user } = freshUser();
    const result = await userApi(
      httpEvent('POST /v1/agents/{agentId}/messages', {
        user,
        pathParameters: { agentId: 'helper' },
        body: { text: 'summarize my week' },
      }),
    );
    expect(result.statusCode).toBe(202);
    const { messageId, outcome, agent } = body(result);
    expect(outcome).toBe('started');
    expect(agent.status).toBe('STARTING');
    const rows = await inbox(pairKey(user, 'helper'));
    expect(rows).toEqual([
      {
        pk: pairKey(user, 'helper'),
        sk: messageId,
        body: expect.stringMatching(/^cubicle-sealed:v1:/),
        requestId: expect.stringMatching(/^req-/),
        createdAt: clock.t,
      },
    ]);
    // Sealed under the user's key for this agent's inbox: only that context opens it.
    expect(
      await openInboxBody(sharedUserKeys().sealer, { userId: user, agentId: 'helper' }, rows[0] as InboxRow),
    ).toEqual({ text: 'summarize my week' });
    expect(fake.mock.commandCalls(RunTaskCommand)).toHaveLength(1);
    expect(fake.mock.commandCalls(RunTaskCommand)[0].args[0].input.taskDefinition).toBe(`acme-${user}_helper`);
  });

  it('a message to a running agent is stored, refreshes its activity and starts nothing', async () => {
    const { api: userApi, user } = freshUser();
    await userApi(httpEvent('POST /v1/agents/{agentId}/wake', { user, pathParameters: { agentId: 'helper' } }));
    const session = await getSession(deps.lifecycle, pairKey(user, 'helper'));
    await applyTaskEvent(deps.lifecycle, {
      taskArn: session?.taskArn as string,
      clusterArn: TEST_CLUSTER_ARN,
      lastStatus: 'RUNNING',
      startedBy: STARTED_BY,
      taskDefinitionArn: taskDefinitionArnOf(user, 'helper'),
    });
    clock.advance(5 * 60_000);
    const result = await userApi(
      httpEvent('POST /v1/agents/{agentId}/messages', {
        user,
        pathParameters: { agentId: 'helper' },
        body: { text: 'one more thing' },
      }),
    );
    expect(result.statusCode).toBe(202);
    expect(body(result).outcome).toBe('active');
    expect(fake.mock.commandCalls(RunTaskCommand)).toHaveLength(1);
    expect(await getSession(deps.lifecycle, pairKey(user, 'helper'))).toMatchObject({
      status: 'RUNNING',
      lastActivityAt: clock.t,
    });
    expect(await inbox(pairKey(user, 'helper'))).toHaveLength(1);
  });

  it('a message is kept when the agent cannot start: 503 with the message id and the request id only', async () => {
    const { api: userApi, user } = freshUser();
    fake.runTask.push(async () => ({ tasks: [], failures: [{ reason: 'RESOURCE:ENI' }], $metadata: {} }));
    const result = await userApi(
      httpEvent('POST /v1/agents/{agentId}/messages', {
        user,
        pathParameters: { agentId: 'helper' },
        body: { text: 'are you there?' },
      }),
    );
    expect(result.statusCode).toBe(503);
    expect(Object.keys(body(result)).sort()).toEqual(['message', 'messageId', 'requestId']);
    expect(body(result).message).not.toMatch(/ENI|arn:|Exception/);
    expect(await inbox(pairKey(user, 'helper'))).toHaveLength(1);
    const agent = body(
      await userApi(httpEvent('GET /v1/agents/{agentId}', { user, pathParameters: { agentId: 'helper' } })),
    );
    expect(agent).toMatchObject({ status: 'FAILED', stopReason: expect.stringContaining('RESOURCE:ENI') });
  });

  it('wake answers 202 then 200; sleep answers 202 then 200', async () => {
    const { api: userApi, user } = freshUser();
    const p = { user, pathParameters: { agentId: 'helper' } };
    expect((await userApi(httpEvent('POST /v1/agents/{agentId}/wake', p))).statusCode).toBe(202);
    expect((await userApi(httpEvent('POST /v1/agents/{agentId}/wake', p))).statusCode).toBe(200);
    expect((await userApi(httpEvent('POST /v1/agents/{agentId}/sleep', p))).statusCode).toBe(202);
    const stopped = await userApi(httpEvent('POST /v1/agents/{agentId}/wake', p));
    expect(stopped.statusCode).toBe(202);
    expect(body(stopped)).toMatchObject({ outcome: 'pending', agent: { status: 'STOPPING', wakePending: true } });
    expect((await userApi(httpEvent('POST /v1/agents/{agentId}/sleep', p))).statusCode).toBe(202);
    const fresh = freshUser();
    expect(
      (
        await fresh.api(
          httpEvent('POST /v1/agents/{agentId}/sleep', { user: fresh.user, pathParameters: { agentId: 'helper' } }),
        )
      ).statusCode,
    ).toBe(200);
  });

  it('pages through events with an opaque cursor', async () => {
    const { api: userApi, user } = freshUser();
    const log = new EventLog(dynamo.doc, dynamo.tables.events, pairKey(user, 'helper'), TEST_CHAIN, clock.now);
    for (let i = 1; i <= 5; i += 1) await log.append({ type: 'reply', requestId: `r${i}`, data: { n: i } });
    const page = async (query?: Record<string, string>) =>
      body(
        await userApi(
          httpEvent('GET /v1/agents/{agentId}/events', { user, pathParameters: { agentId: 'helper' }, query }),
        ),
      );
    const first = await page({ limit: '2' });
    expect(first.events.map((e: { seq: number }) => e.seq)).toEqual([1, 2]);
    expect(first).toMatchObject({ cursor: '2', more: true });
    expect(first.events[0]).toMatchObject({
      type: 'reply',
      requestId: 'r1',
      data: { n: 1 },
      at: new Date(clock.t).toISOString(),
    });
    const rest = await page({ after: first.cursor });
    expect(rest.events.map((e: { seq: number }) => e.seq)).toEqual([3, 4, 5]);
    expect(rest).toMatchObject({ cursor: '5', more: false });
    expect(await page({ after: '5' })).toEqual({ events: [], cursor: '5', more: false });
  });
});

describe('approvals', () => {
  it('records a decision once, refuses a second and an expired one, and appends to the chain', async () => {
    const pk = pairKey('alice', 'finance');
    const id = await pendingApproval(pk);
    const decide = (decision: string, approvalId = id) =>
      api(
        httpEvent('POST /v1/approvals/{id}', {
          user: 'alice',
          pathParameters: { id: approvalId },
          body: { agentId: 'finance', decision },
        }),
      );
    const first = await decide('deny');
    expect(first.statusCode).toBe(200);
    expect(body(first)).toMatchObject({ approvalId: id, decision: 'denied' });
    const second = await decide('approve');
    expect(second.statusCode).toBe(409);
    expect(body(second).message).toBe('This approval was already denied.');

    const expired = await pendingApproval(pk, { expiresAt: clock.t - 1 });
    expect((await decide('approve', expired)).statusCode).toBe(409);
    const timedOut = await pendingApproval(pk, { expiredAt: clock.t });
    expect(body(await decide('approve', timedOut)).message).toBe('This approval has expired.');
    expect((await decide('approve', newSortableId(clock.t))).statusCode).toBe(404);

    const chain = await readEvents(dynamo.doc, dynamo.tables.events, pk);
    expect(chain.filter((e) => e.type === 'approval.decided').map((e) => e.data)).toEqual([
      { approvalId: id, decision: 'denied' },
    ]);
    expect((await verifyChain(chain, TEST_CHAIN)).ok).toBe(true);
  });
});

describe('bad input', () => {
  const agent = { agentId: 'sales' };
  const cases: Array<[string, string, Parameters<typeof httpEvent>[1], number]> = [
    ['no body', 'POST /v1/agents/{agentId}/messages', { pathParameters: agent }, 400],
    ['truncated JSON', 'POST /v1/agents/{agentId}/messages', { pathParameters: agent, rawBody: '{"text": ' }, 400],
    ['text missing', 'POST /v1/agents/{agentId}/messages', { pathParameters: agent, body: {} }, 400],
    ['empty text', 'POST /v1/agents/{agentId}/messages', { pathParameters: agent, body: { text: '' } }, 400],
    [
      'text too long',
      'POST /v1/agents/{agentId}/messages',
      { pathParameters: agent, body: { text: 'x'.repeat(MAX_MESSAGE_CHARS + 1) } },
      400,
    ],
    [
      'extra field',
      'POST /v1/agents/{agentId}/messages',
      { pathParameters: agent, body: { text: 'hi', userId: 'bruno' } },
      400,
    ],
    ['array body', 'POST /v1/agents/{agentId}/messages', { pathParameters: agent, body: ['hi'] }, 400],
    ['text not a string', 'POST /v1/agents/{agentId}/messages', { pathParameters: agent, body: { text: 42 } }, 400],
    [
      'body over 256 KB',
      'POST /v1/agents/{agentId}/messages',
      { pathParameters: agent, rawBody: JSON.stringify({ text: 'x'.repeat(300_000) }) },
      413,
    ],
    [
      'malformed agent id',
      'POST /v1/agents/{agentId}/messages',
      { pathParameters: { agentId: 'BAD!' }, body: { text: 'hi' } },
      404,
    ],
    ['overlong agent id', 'POST /v1/agents/{agentId}/wake', { pathParameters: { agentId: 'x'.repeat(200) } }, 404],
    ['missing agent id', 'POST /v1/agents/{agentId}/sleep', { pathParameters: {} }, 404],
    ['path traversal agent id', 'GET /v1/agents/{agentId}', { pathParameters: { agentId: '../alice' } }, 404],
    ['negative cursor', 'GET /v1/agents/{agentId}/events', { pathParameters: agent, query: { after: '-1' } }, 400],
    ['non-numeric cursor', 'GET /v1/agents/{agentId}/events', { pathParameters: agent, query: { after: 'abc' } }, 400],
    ['limit 0', 'GET /v1/agents/{agentId}/events', { pathParameters: agent, query: { limit: '0' } }, 400],
    ['limit 201', 'GET /v1/agents/{agentId}/events', { pathParameters: agent, query: { limit: '201' } }, 400],
    [
      'unknown query parameter',
      'GET /v1/agents/{agentId}/events',
      { pathParameters: agent, query: { cursor: '1' } },
      400,
    ],
    ['query on a route without one', 'GET /v1/agents', { query: { all: 'true' } }, 400],
    [
      'malformed approval id',
      'POST /v1/approvals/{id}',
      { pathParameters: { id: 'not-an-id' }, body: { agentId: 'sales', decision: 'approve' } },
      404,
    ],
    [
      'approval without body',
      'POST /v1/approvals/{id}',
      { pathParameters: { id: '0000000000001-0123456789abcdef' } },
      400,
    ],
    [
      'decision missing',
      'POST /v1/approvals/{id}',
      { pathParameters: { id: '0000000000001-0123456789abcdef' }, body: { agentId: 'sales' } },
      400,
    ],
    [
      'unknown decision',
      'POST /v1/approvals/{id}',
      { pathParameters: { id: '0000000000001-0123456789abcdef' }, body: { agentId: 'sales', decision: 'maybe' } },
      400,
    ],
    [
      'malformed agentId in body',
      'POST /v1/approvals/{id}',
      { pathParameters: { id: '0000000000001-0123456789abcdef' }, body: { agentId: 'Sales!', decision: 'approve' } },
      400,
    ],
    ['unknown route', 'DELETE /v1/agents/{agentId}', { pathParameters: agent }, 404],
  ];

  it.each(cases)('%s (%s) → %i JSON with a message', async (_label, routeKey, options, status) => {
    const result = await api(httpEvent(routeKey, { user: 'alice', ...options }));
    expect(result.statusCode).toBe(status);
    expect(result.headers?.['content-type']).toMatch(/^application\/json/);
    const parsed = body(result);
    expect(typeof parsed.message).toBe('string');
    expect(parsed.message.length).toBeGreaterThan(10);
    expect(parsed.requestId).toMatch(/^req-/);
  });

  it('names the field and the rule without echoing the input', async () => {
    const result = await api(
      httpEvent('POST /v1/agents/{agentId}/messages', {
        user: 'alice',
        pathParameters: agent,
        body: { text: 'secret-ish', extra: 'zzz' },
      }),
    );
    expect(body(result).message).toBe('Invalid body: unknown field "extra"');
    const empty = await api(
      httpEvent('POST /v1/agents/{agentId}/messages', { user: 'alice', pathParameters: agent, body: {} }),
    );
    expect(body(empty).message).toBe('Invalid body: text is required');
  });

  it('a 5xx carries only the request id', async () => {
    const broken = createApiHandler({ ...deps, records: { ...deps.records, sessionsTable: 'missing-table' } });
    const result = await broken(httpEvent('GET /v1/agents', { user: 'alice' }));
    expect(result.statusCode).toBe(500);
    expect(Object.keys(body(result)).sort()).toEqual(['message', 'requestId']);
    expect(result.body).not.toMatch(/missing-table|ResourceNotFound|at /);
  });
});
