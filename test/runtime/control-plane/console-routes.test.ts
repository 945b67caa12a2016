/**
 * What the employee console and CLI need from the API, against a real DynamoDB-compatible server
 * (dynalite): GET /v1/approvals (the caller's own pending approvals across their agents, read from their
 * own pairs' partitions only) and the credentials each agent takes, in the agent view.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiHandler, type ApiDeps } from '../../../runtime/control-plane/api';
import type { HttpResult } from '../../../runtime/control-plane/http';
import { PENDING_APPROVAL_WINDOW_MS } from '../../../runtime/control-plane/records';
import { API_ROUTES } from '../../../runtime/control-plane/routes';
import { Roster } from '../../../runtime/control-plane/roster';
import { AGENT_TUNING_SCHEMA } from '../../../runtime/shared/agent-env';
import { newSortableId, type ApprovalRow } from '../../../runtime/shared/rows';
import { sealApproval } from '../../../runtime/shared/sealed-rows';
import { pairKey } from '../../../runtime/shared/tables';
import { startDynamo, type TestDynamo } from '../../support/dynamo';
import { ISSUER } from '../../support/tokens';
import { Clock, DIRECTORY, fakeEcs, httpEvent, sharedUserKeys, apiDeps } from './support/fixtures';

let dynamo: TestDynamo;
beforeAll(async () => {
  dynamo = await startDynamo({ writer: 'api' });
});
afterAll(async () => {
  await dynamo.close();
});

let clock: Clock;
let deps: ApiDeps;
/** Fresh user ids per test, so partitions from other tests never show up. */
let run = 0;
let alice: string;
let bruno: string;
let api: ReturnType<typeof createApiHandler>;
beforeEach(() => {
  clock = new Clock();
  run += 1;
  alice = `alice${run}`;
  bruno = `bruno${run}`;
  const [a, b] = DIRECTORY.users;
  const roster = new Roster({
    ...DIRECTORY,
    users: [
      { ...a, id: alice },
      { ...b, id: bruno },
    ],
  });
  deps = apiDeps(dynamo, fakeEcs().ecs, clock, ISSUER.authenticator(roster));
  api = createApiHandler(deps);
});

const body = (result: HttpResult) => JSON.parse(result.body as string);

async function approval(
  user: string,
  agent: string,
  over: Partial<ApprovalRow> = {},
  createdAgoMs = 0,
): Promise<string> {
  const createdAt = clock.t - createdAgoMs;
  const id = newSortableId(createdAt);
  const row: ApprovalRow = {
    pk: pairKey(user, agent),
    sk: id,
    requestId: 'runtime-req',
    messageId: `msg-${id.slice(-4)}`,
    tool: 'WebFetch',
    summary: `GET https://${agent}.example/x`,
    hosts: [`${agent}.example`],
    createdAt,
    expiresAt: createdAt + 10 * 60_000,
    ...over,
  };
  // Stored as the relay stores it: summary and hosts sealed under the user's key.
  await dynamo.seed.send(
    new PutCommand({ TableName: dynamo.tables.approvals, Item: await sealApproval(sharedUserKeys().sealer, row) }),
  );
  return id;
}

const list = (user: string, query?: Record<string, string>) =>
  api(httpEvent(API_ROUTES.listApprovals, { user, query }));

describe('GET /v1/approvals', () => {
  it("lists the caller's pending approvals across their agents, soonest to expire first, with what the console shows", async () => {
    const older = await approval(alice, 'sales', {}, 5 * 60_000);
    const newer = await approval(alice, 'finance', { tool: 'Bash', hosts: [], summary: 'curl https://bank.example' });
    const result = await list(alice);
    expect(result.statusCode).toBe(200);
    expect(body(result)).toEqual({
      approvals: [
        {
          approvalId: older,
          agentId: 'sales',
          messageId: `msg-${older.slice(-4)}`,
          tool: 'WebFetch',
          hosts: ['sales.example'],
          summary: 'GET https://sales.example/x',
          createdAt: new Date(clock.t - 5 * 60_000).toISOString(),
          expiresAt: new Date(clock.t + 5 * 60_000).toISOString(),
        },
        {
          approvalId: newer,
          agentId: 'finance',
          messageId: `msg-${newer.slice(-4)}`,
          tool: 'Bash',
          hosts: [],
          summary: 'curl https://bank.example',
          createdAt: new Date(clock.t).toISOString(),
          expiresAt: new Date(clock.t + 10 * 60_000).toISOString(),
        },
      ],
    });
  });

  it('leaves out decided, timed-out and past-expiry requests', async () => {
    const pending = await approval(alice, 'sales');
    await approval(alice, 'sales', { decision: 'approved', decidedAt: clock.t, decidedBy: alice });
    await approval(alice, 'sales', { decision: 'denied', decidedAt: clock.t, decidedBy: alice });
    await approval(alice, 'sales', { expiredAt: clock.t });
    await approval(alice, 'sales', { expiresAt: clock.t }); // expires now: no longer decidable
    expect(body(await list(alice)).approvals.map((a: { approvalId: string }) => a.approvalId)).toEqual([pending]);
  });

  it('an approval decided through the API leaves the list', async () => {
    const id = await approval(alice, 'sales');
    expect(body(await list(alice)).approvals).toHaveLength(1);
    const decided = await api(
      httpEvent(API_ROUTES.decideApproval, {
        user: alice,
        pathParameters: { id },
        body: { agentId: 'sales', decision: 'approve' },
      }),
    );
    expect(decided.statusCode).toBe(200);
    expect(body(await list(alice)).approvals).toEqual([]);
  });

  it('finds a request created at the start of the longest wait a runtime may be configured with', async () => {
    // The runtime refuses a timeout as long as the window, so every pending request was created inside it.
    const timeout = AGENT_TUNING_SCHEMA.shape.CUBICLE_APPROVAL_TIMEOUT_MS;
    expect(timeout.safeParse(PENDING_APPROVAL_WINDOW_MS).success).toBe(false);
    const longest = 14 * 60_000;
    expect(timeout.safeParse(longest).success).toBe(true);
    const id = await approval(alice, 'sales', { expiresAt: clock.t + 1_000 }, longest - 1_000);
    expect(body(await list(alice)).approvals.map((a: { approvalId: string }) => a.approvalId)).toEqual([id]);
  });

  it("a user never sees another user's approvals, and reads only their own partitions (one Query each, no Scan)", async () => {
    await approval(alice, 'sales');
    await approval(alice, 'finance');
    const own = await approval(bruno, 'research');
    dynamo.reset();
    const result = await list(bruno);
    expect(body(result).approvals.map((a: { approvalId: string }) => a.approvalId)).toEqual([own]);
    expect(JSON.stringify(body(result))).not.toMatch(/alice|sales|finance/);
    expect(Object.fromEntries(dynamo.calls)).toEqual({ QueryCommand: 2 }); // research and writer
    expect(body(await list(`${bruno}x`)).message).toMatch(/not on the Cubicle roster/);
  });

  it('an agent with no approvals and a user with none answer an empty list', async () => {
    expect(await list(bruno).then(body)).toEqual({ approvals: [] });
  });

  it('takes no query parameters: a user or agent named in the query is refused, never used', async () => {
    await approval(alice, 'sales');
    for (const query of [{ user: alice }, { agentId: 'sales' }] as Record<string, string>[]) {
      const result = await list(bruno, query);
      expect(result.statusCode).toBe(400);
      expect(body(result).message).toBe('This route takes no query parameters.');
    }
  });
});

describe('the agent view names the credentials the employee can store', () => {
  it("the provider credential (none for bedrock) and the connections that take the user's own credential", async () => {
    const mine = (await api(httpEvent(API_ROUTES.listAgents, { user: alice })).then(body)).agents;
    expect(
      mine.map((a: Record<string, unknown>) => [a.agentId, a.provider, a.providerCredential, a.connections]),
    ).toEqual([
      ['sales', 'anthropic', true, ['crm']],
      ['finance', 'openai', true, ['bank-feed']],
    ]);
    const theirs = await api(
      httpEvent(API_ROUTES.getAgent, { user: bruno, pathParameters: { agentId: 'research' } }),
    ).then(body);
    expect(theirs).toMatchObject({
      agentId: 'research',
      provider: 'bedrock',
      providerCredential: false,
      connections: [],
    });
  });
});
