import { RunTaskCommand } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiHandler } from '../../../runtime/control-plane/api';
import type { HttpResult } from '../../../runtime/control-plane/http';
import type { RosterAgent } from '../../../runtime/control-plane/roster';
import { runSchedule } from '../../../runtime/control-plane/scheduled-run';
import { UsageLedger, type BudgetLimits } from '../../../runtime/shared/budget';
import { pairKey } from '../../../runtime/shared/tables';
import { startDynamo, type TestDynamo } from '../../support/dynamo';
import { Clock, fakeEcs, httpEvent, inboxItems, apiDeps, rosterWithUser } from './support/fixtures';
import { ISSUER } from '../../support/tokens';

let dynamo: TestDynamo;
let ledger: UsageLedger;
beforeAll(async () => {
  dynamo = await startDynamo({ writer: 'api' });
  // The counters are the relay's to write (a runtime's usage events); the API only reads them.
  ledger = new UsageLedger(dynamo.as('relay-runtime'), dynamo.tables.usage);
});
afterAll(async () => {
  await dynamo.close();
});

const LIMITS: BudgetLimits = { userMonthlyUsd: 10, agentMonthlyUsd: 4, userStopped: false, agentStopped: false };
let counter = 0;

/** A fresh roster user whose one agent has these limits and a declared schedule. */
function setup(budget: BudgetLimits) {
  const user = `budget${++counter}`;
  const agent: RosterAgent = {
    id: 'helper',
    provider: 'anthropic',
    providerSecret: true,
    secretConnections: [],
    schedules: [{ id: 'daily', text: 'Summarize', outbound: 'deny', maxRunMinutes: 30 }],
    budget,
  };
  const roster = rosterWithUser(user, [agent]);
  const clock = new Clock();
  const fake = fakeEcs();
  const base = { ...apiDeps(dynamo, fake.ecs, clock, ISSUER.authenticator(roster)), usage: ledger };
  const logger = base.logger;
  const api = createApiHandler(base);
  const post = (text = 'hello', idempotencyKey?: string) => {
    const event = httpEvent('POST /v1/agents/{agentId}/messages', {
      user,
      pathParameters: { agentId: 'helper' },
      body: { text },
    });
    return api(idempotencyKey ? { ...event, headers: { ...event.headers, 'idempotency-key': idempotencyKey } } : event);
  };
  const schedule = () =>
    runSchedule(
      { ...base, roster, log: logger },
      { scheduleId: `${user}/helper/daily` },
      `req-${counter}-${Math.random()}`,
    );
  const usage = () => api(httpEvent('GET /v1/usage', { user }));
  return {
    user,
    clock,
    fake,
    logger,
    api,
    usage,
    post,
    schedule,
    spend: (costUsd: number) =>
      ledger.record(user, 'helper', { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0, costUsd }, clock.now()),
  };
}

const body = (r: HttpResult) => JSON.parse(r.body as string);
const inbox = (user: string) => inboxItems(dynamo, pairKey(user, 'helper'));

describe('budget gate on new messages', () => {
  it('accepts under the limit; at 100 % answers 402 with the limit, the spend and the reset, stores nothing and wakes nothing', async () => {
    const s = setup(LIMITS);
    await s.spend(3.99);
    expect((await s.post()).statusCode).toBe(202);
    const runTasks = s.fake.mock.commandCalls(RunTaskCommand).length;
    await s.spend(0.01);
    const refused = await s.post('one more');
    expect(refused.statusCode).toBe(402);
    expect(body(refused)).toMatchObject({
      error: 'budget_exhausted',
      scope: 'agent',
      limitUsd: 4,
      spentUsd: 4,
      resetsAt: expect.stringMatching(/^\d{4}-\d\d-01T00:00:00\.000Z$/),
    });
    expect(body(refused).message).toMatch(/monthly budget of 4 USD for this agent is used up/);
    expect(await inbox(s.user)).toHaveLength(1);
    expect(s.fake.mock.commandCalls(RunTaskCommand)).toHaveLength(runTasks);
  });

  it('with an Idempotency-Key: a retry of a stored message gets its answer back at 100 %; a refused key is free again once the budget allows', async () => {
    const s = setup(LIMITS);
    const stored = await s.post('kept', 'key-stored');
    expect(stored.statusCode).toBe(202);
    await s.spend(4);
    const retry = await s.post('kept', 'key-stored');
    expect(retry.statusCode).toBe(202);
    expect(body(retry).messageId).toBe(body(stored).messageId);
    const refused = await s.post('new', 'key-refused');
    expect(refused.statusCode).toBe(402);
    expect(body(refused)).toMatchObject({ error: 'budget_exhausted', scope: 'agent', limitUsd: 4 });
    expect(body(refused).message).toMatch(/monthly budget of 4 USD for this agent is used up/);
    expect(await inbox(s.user)).toHaveLength(1);
    // Next month the same key is a new message (the refusal was not kept as the key's answer).
    s.clock.advance(32 * 24 * 3600_000);
    expect((await s.post('new', 'key-refused')).statusCode).toBe(202);
    expect(await inbox(s.user)).toHaveLength(2);
  });

  it("the user's limit counts across agents", async () => {
    const s = setup({ ...LIMITS, agentMonthlyUsd: undefined });
    await ledger.record(
      s.user,
      'other',
      { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0, costUsd: 10 },
      s.clock.now(),
    );
    expect(body(await s.post())).toMatchObject({
      error: 'budget_exhausted',
      scope: 'user',
      limitUsd: 10,
      spentUsd: 10,
    });
  });

  it('the kill switch refuses at once, even with no spend and no counters', async () => {
    const s = setup({ userStopped: false, agentStopped: true });
    const refused = await s.post();
    expect(refused.statusCode).toBe(402);
    expect(body(refused)).toMatchObject({ error: 'stopped', scope: 'agent' });
    expect(await inbox(s.user)).toHaveLength(0);
  });

  it('a refused scheduled run is a quiet skip: it succeeds (no Scheduler retry or dead letter), stores nothing, wakes nothing, logs one line', async () => {
    const s = setup(LIMITS);
    expect((await s.schedule()).outcome).toBeDefined();
    await s.spend(5);
    const runTasks = s.fake.mock.commandCalls(RunTaskCommand).length;
    const info = vi.spyOn(s.logger, 'info');
    await expect(s.schedule()).resolves.toEqual({
      scheduleId: `${s.user}/helper/daily`,
      outcome: 'skipped',
      reason: 'budget_exhausted',
    });
    expect(info).toHaveBeenCalledWith('scheduled run skipped', {
      schedule_id: `${s.user}/helper/daily`,
      reason: 'budget_exhausted',
      scope: 'agent',
    });
    expect(JSON.stringify(info.mock.calls)).not.toContain('Summarize');
    expect(await inbox(s.user)).toHaveLength(1);
    expect(s.fake.mock.commandCalls(RunTaskCommand)).toHaveLength(runTasks);
    const off = setup({ userStopped: true, agentStopped: false });
    await expect(off.schedule()).resolves.toMatchObject({ outcome: 'skipped', reason: 'stopped' });
    expect(await inbox(off.user)).toHaveLength(0);
  });
});

describe('GET /v1/usage', () => {
  it("answers the caller's own month only: spend, limits and state per user and agent", async () => {
    const s = setup(LIMITS);
    const other = setup(LIMITS);
    await ledger.record(
      other.user,
      'helper',
      { inputTokens: 9, outputTokens: 9, cachedInputTokens: 0, costUsd: 9 },
      s.clock.now(),
    );
    const empty = await s.usage();
    expect(empty.statusCode).toBe(200);
    expect(body(empty)).toEqual({
      month: '2026-01',
      resetsAt: '2026-02-01T00:00:00.000Z',
      user: {
        spentUsd: 0,
        limitUsd: 10,
        inputTokens: 0,
        outputTokens: 0,
        cachedInputTokens: 0,
        messages: 0,
        unpricedMessages: 0,
        state: 'ok',
      },
      agents: [
        {
          agentId: 'helper',
          spentUsd: 0,
          limitUsd: 4,
          inputTokens: 0,
          outputTokens: 0,
          cachedInputTokens: 0,
          messages: 0,
          unpricedMessages: 0,
          state: 'ok',
        },
      ],
    });
    await s.spend(3.2);
    expect(body(await s.usage())).toMatchObject({
      user: { spentUsd: 3.2, state: 'ok' },
      agents: [{ spentUsd: 3.2, state: 'warning' }],
    });
    await s.spend(0.8);
    expect(body(await s.usage())).toMatchObject({
      user: { spentUsd: 4, state: 'ok' },
      agents: [{ spentUsd: 4, state: 'exhausted' }],
    });
    const off = setup({ userStopped: true, agentStopped: false });
    expect(body(await off.usage())).toMatchObject({ user: { state: 'stopped' }, agents: [{ state: 'stopped' }] });
  });

  it('takes no query parameters and needs a verified token', async () => {
    const s = setup(LIMITS);
    expect((await s.usage()).statusCode).toBe(200);
    const anonymous = await s.api({ ...httpEvent('GET /v1/usage', { user: s.user }), headers: {} });
    expect(anonymous.statusCode).toBe(401);
    expect((await s.api(httpEvent('GET /v1/usage', { user: s.user, query: { user: 'someone' } }))).statusCode).toBe(
      400,
    );
  });
});
