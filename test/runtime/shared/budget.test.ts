import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  budgetDecision,
  limitsFromConfig,
  monthOf,
  pastWarning,
  resetsAt,
  UsageLedger,
  type MonthUsage,
} from '../../../runtime/shared/budget';
// dynalite ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: { createTableMs: number }) => import('node:http').Server;

const NOV = Date.UTC(2026, 10, 28, 22, 0);
let server: import('node:http').Server;
let ledger: UsageLedger;

beforeAll(async () => {
  server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'eu-west-1',
    credentials: { accessKeyId: 't', secretAccessKey: 't' },
    maxAttempts: 1,
  });
  await client.send(
    new CreateTableCommand({
      TableName: 'Usage',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
  ledger = new UsageLedger(DynamoDBDocumentClient.from(client), 'Usage');
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('monthly usage counter', () => {
  it('50 concurrent messages sum exactly (atomic ADD, integer micro-dollars)', async () => {
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        ledger.record(
          'alice',
          i % 2 ? 'sales' : 'ops',
          { inputTokens: 10, outputTokens: 3, cachedInputTokens: 1, costUsd: 0.1 },
          NOV,
        ),
      ),
    );
    const { user, agent } = await ledger.read('alice', 'sales', NOV);
    expect(user).toEqual({
      costUsd: 5,
      inputTokens: 500,
      outputTokens: 150,
      cachedInputTokens: 50,
      messages: 50,
      unpricedMessages: 0,
    });
    expect(agent).toEqual({
      costUsd: 2.5,
      inputTokens: 250,
      outputTokens: 75,
      cachedInputTokens: 25,
      messages: 25,
      unpricedMessages: 0,
    });
  });

  it('a CLI without a cost adds tokens and counts the message as unpriced', async () => {
    await ledger.record('bob', 'dev', { inputTokens: 7, outputTokens: 2, cachedInputTokens: 0 }, NOV);
    expect((await ledger.read('bob', undefined, NOV)).user).toEqual({
      costUsd: 0,
      inputTokens: 7,
      outputTokens: 2,
      cachedInputTokens: 0,
      messages: 1,
      unpricedMessages: 1,
    });
  });

  it('months are separate rows: December starts at zero', async () => {
    await ledger.record('carol', 'x', { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0, costUsd: 1 }, NOV);
    expect((await ledger.read('carol', 'x', Date.UTC(2026, 11, 1))).user.costUsd).toBe(0);
  });

  it('the 80 % notice is claimed exactly once per (user, month), even by racing callers', async () => {
    const claims = await Promise.all(Array.from({ length: 20 }, () => ledger.claimWarning('dana', NOV)));
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await ledger.claimWarning('dana', NOV)).toBe(false);
    expect(await ledger.claimWarning('dana', Date.UTC(2026, 11, 2))).toBe(true);
    // An agent's notice is its own row: claiming it does not use up the user's, nor the reverse.
    expect(await ledger.claimWarning('dana', NOV, 'helper')).toBe(true);
    expect(await ledger.claimWarning('dana', NOV, 'helper')).toBe(false);
    expect(await ledger.claimWarning('erin', NOV, 'helper')).toBe(true);
    expect(await ledger.claimWarning('erin', NOV)).toBe(true);
  });
});

describe('budget decision', () => {
  const used = (costUsd: number): MonthUsage => ({
    costUsd,
    inputTokens: 0,
    outputTokens: 0,
    cachedInputTokens: 0,
    messages: 1,
    unpricedMessages: 0,
  });
  const limits = limitsFromConfig({ monthlyUsdPerUser: 50, monthlyUsdPerAgent: 20 }, {}, {});

  it('months and reset times are UTC calendar months', () => {
    expect(monthOf(NOV)).toBe('2026-11');
    expect(resetsAt(NOV)).toBe('2026-12-01T00:00:00.000Z');
    expect(resetsAt(Date.UTC(2026, 11, 31, 23, 59))).toBe('2027-01-01T00:00:00.000Z');
  });

  it('resolves overrides from the config', () => {
    expect(limits).toEqual({ userMonthlyUsd: 50, agentMonthlyUsd: 20, userStopped: false, agentStopped: false });
    expect(
      limitsFromConfig(
        { monthlyUsdPerUser: 50 },
        { budget: { monthlyUsd: 80, stopped: false } },
        { budget: { stopped: true } },
      ),
    ).toEqual({
      userMonthlyUsd: 80,
      userStopped: false,
      agentStopped: true,
    });
    expect(limitsFromConfig(undefined, {}, {})).toEqual({ userStopped: false, agentStopped: false });
  });

  it('accepts under the limit and refuses with 402, the limit, the spend and the reset at 100 %', () => {
    expect(budgetDecision(limits, { user: used(49.99), agent: used(19.99) }, NOV)).toBeUndefined();
    expect(budgetDecision(limits, { user: used(50), agent: used(1) }, NOV)).toEqual({
      status: 402,
      body: {
        error: 'budget_exhausted',
        scope: 'user',
        limitUsd: 50,
        spentUsd: 50,
        resetsAt: '2026-12-01T00:00:00.000Z',
        message:
          'the monthly budget of 50 USD for this user is used up (50 USD spent); it resets at 2026-12-01T00:00:00.000Z',
      },
    });
    expect(budgetDecision(limits, { user: used(21), agent: used(20.5) }, NOV)?.body).toMatchObject({
      scope: 'agent',
      limitUsd: 20,
      spentUsd: 20.5,
    });
  });

  it('the kill switches refuse whatever the spend; no budgets means no limit', () => {
    expect(budgetDecision({ ...limits, userStopped: true }, { user: used(0) }, NOV)?.body).toMatchObject({
      error: 'stopped',
      scope: 'user',
    });
    expect(budgetDecision({ ...limits, agentStopped: true }, { user: used(0) }, NOV)?.body).toMatchObject({
      error: 'stopped',
      scope: 'agent',
    });
    expect(budgetDecision(limitsFromConfig(undefined, {}, {}), { user: used(1e6) }, NOV)).toBeUndefined();
  });

  it('warns from 80 % of a limit', () => {
    expect(pastWarning(limits.userMonthlyUsd, used(limits.userMonthlyUsd! * 0.8 - 0.01))).toBe(false);
    expect(pastWarning(limits.userMonthlyUsd, used(limits.userMonthlyUsd! * 0.8))).toBe(true);
    expect(pastWarning(limitsFromConfig(undefined, {}, {}).userMonthlyUsd, used(1e6))).toBe(false);
  });
});
