import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putMessage } from '../../../runtime/control-plane/records';
import { applyOp, type RowDeps } from '../../../runtime/relay/runtime-rows';
import { UsageLedger, type BudgetLimits } from '../../../runtime/shared/budget';
import type { EventRow } from '../../../runtime/shared/rows';
import { pairKey } from '../../../runtime/shared/tables';
import { startDynamo, type TestDynamo } from '../../support/dynamo';
import { recordDeps, Clock, userKeys } from '../control-plane/support/fixtures';
import { TEST_CHAIN } from '../../support/chain-key';

/**
 * The runtime relay's side of budgets (runtime/relay/runtime-usage.ts), through the same row functions a
 * runtime's frames reach: usage events become counters, the 80 % notice is appended once, and the inbox is
 * held at 100 % without losing what is queued.
 */

let dynamo: TestDynamo;
let ledger: UsageLedger;
beforeAll(async () => {
  dynamo = await startDynamo({ writer: 'relay-runtime' });
  ledger = new UsageLedger(dynamo.doc, dynamo.tables.usage);
});
afterAll(async () => {
  await dynamo.close();
});

const NOV = Date.UTC(2026, 10, 15);
let counter = 0;

function pairWith(limits: BudgetLimits | undefined) {
  const userId = `spender${++counter}`;
  const pair = pairKey(userId, 'helper');
  const keys = userKeys();
  const clock = new Clock(NOV);
  const deps: RowDeps = {
    sealer: keys.sealer,
    doc: dynamo.doc,
    sessionsTable: dynamo.tables.sessions,
    inboxTable: dynamo.tables.inbox,
    eventsTable: dynamo.tables.events,
    approvalsTable: dynamo.tables.approvals,
    chain: TEST_CHAIN,
    now: () => clock.now(),
    eventLogs: new Map(),
    budgets: { ledger, limitsOf: (u, a) => (u === userId && a === 'helper' ? limits : undefined) },
  };
  const ctx = { pair, taskId: 't1', taskArn: 'arn:aws:ecs:eu-west-1:111111111111:task/c/t1', sessionId: 's1' };
  const usage = (costUsd?: number) =>
    applyOp(deps, ctx, {
      op: 'event',
      type: 'usage',
      requestId: `r${counter}`,
      data: { inputTokens: 100, outputTokens: 40, cachedInputTokens: 0, ...(costUsd === undefined ? {} : { costUsd }) },
    });
  const events = async () =>
    ((
      await dynamo.doc.send(
        new QueryCommand({
          TableName: dynamo.tables.events,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pair },
          ConsistentRead: true,
        }),
      )
    ).Items ?? []) as EventRow[];
  const post = (text: string) =>
    putMessage({ ...recordDeps(dynamo, clock, keys.sealer), doc: dynamo.as('api') }, pair, text, `post-${text}`);
  const next = () => applyOp(deps, ctx, { op: 'inbox.next' });
  return { userId, usage, events, post, next };
}

const LIMITS: BudgetLimits = { userMonthlyUsd: 1, userStopped: false, agentStopped: false };

describe("a runtime's usage events", () => {
  it("add to the user's and the agent's month (tokens always, cost when the CLI printed one)", async () => {
    const p = pairWith(LIMITS);
    await p.usage(0.25);
    await p.usage(); // Codex and Gemini print no cost: tokens count, the cost is unknown
    const totals = await ledger.read(p.userId, 'helper', NOV);
    expect(totals.user).toEqual({
      costUsd: 0.25,
      inputTokens: 200,
      outputTokens: 80,
      cachedInputTokens: 0,
      messages: 2,
      unpricedMessages: 1,
    });
    expect(totals.agent).toEqual(totals.user);
    expect((await p.events()).map((e) => e.type)).toEqual(['usage', 'usage']);
  });

  it('are counted without limits too (no roster budget), and a bogus cost is not counted as money', async () => {
    const p = pairWith(undefined);
    await p.usage(1e9);
    expect((await ledger.read(p.userId, 'helper', NOV)).user).toMatchObject({ costUsd: 0, unpricedMessages: 1 });
  });

  it('append budget.threshold once a month when 80 % is crossed, for the user and for an agent with its own limit', async () => {
    const p = pairWith({ ...LIMITS, agentMonthlyUsd: 0.5 });
    await p.usage(0.39);
    expect((await p.events()).map((e) => e.type)).not.toContain('budget.threshold');
    await p.usage(0.01); // the agent reaches 0.40 = 80 % of 0.50
    await p.usage(0.4); // the user reaches 0.80 = 80 % of 1
    await p.usage(0.05);
    const notices = (await p.events()).filter((e) => e.type === 'budget.threshold');
    expect(notices.map((e) => e.data)).toEqual([
      expect.objectContaining({ scope: 'agent', limitUsd: 0.5, spentUsd: 0.4, percent: 80, month: '2026-11' }),
      expect.objectContaining({
        scope: 'user',
        limitUsd: 1,
        spentUsd: 0.8,
        percent: 80,
        resetsAt: '2026-12-01T00:00:00.000Z',
      }),
    ]);
  });
});

describe('the inbox at 100 %', () => {
  it('is held: inbox.next answers no row and why; the queued message is not claimed and is there for a later wake', async () => {
    const p = pairWith(LIMITS);
    const first = await p.post('first');
    expect(await p.next()).toMatchObject({ row: { sk: first } });
    await p.usage(1);
    expect(await p.next()).toEqual({ row: null, held: 'budget_exhausted' });
    // Not claimed, not finished: the next read once the budget allows returns it.
    const rows = (
      await dynamo.doc.send(
        new QueryCommand({
          TableName: dynamo.tables.inbox,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pairKey(p.userId, 'helper') },
          ConsistentRead: true,
        }),
      )
    ).Items;
    expect(rows).toEqual([expect.objectContaining({ sk: first })]);
    expect(rows?.[0]).not.toHaveProperty('state');
  });

  it('is held by a kill switch whatever the spend, and not held when the inbox is empty (no read of the counters)', async () => {
    const p = pairWith({ ...LIMITS, agentStopped: true });
    expect(await p.next()).toEqual({ row: null });
    await p.post('queued');
    expect(await p.next()).toEqual({ row: null, held: 'stopped' });
  });
});
