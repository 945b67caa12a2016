import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../lib/config/load';
import { rosterDirectory } from '../../lib/constructs/control-plane-roster';
import { minimalConfigText } from '../support/example-config';
import { problemLines } from '../support/config-problems';

const withBudgets = (budgets: string, userExtra = '', agentExtra = '') =>
  minimalConfigText({
    ...(budgets ? { budgets } : {}),
    users: `[{ id: alice, email: alice@acme.example${userExtra}, agents: [{ id: sales, provider: anthropic${agentExtra} }] }]`,
  });

describe('budgets in the roster', () => {
  it('accepts fleet limits, per-user and per-agent overrides and kill switches', () => {
    const config = parseConfigText(
      withBudgets(
        '{ monthlyUsdPerUser: 50, monthlyUsdPerAgent: 20.5 }',
        ', budget: { monthlyUsd: 120 }',
        ', budget: { monthlyUsd: 100, stopped: true }',
      ),
      'test.yaml',
    );
    expect(config.budgets).toEqual({ monthlyUsdPerUser: 50, monthlyUsdPerAgent: 20.5 });
    expect(config.users[0].budget).toEqual({ monthlyUsd: 120, stopped: false });
    expect(config.users[0].agents[0].budget).toEqual({ monthlyUsd: 100, stopped: true });
  });

  it('is optional: no budgets, no limit', () => {
    const config = parseConfigText(withBudgets(''), 'test.yaml');
    expect(config.budgets).toBeUndefined();
    expect(config.users[0].budget).toBeUndefined();
  });

  it('names bad values by path', () => {
    const lines = problemLines(
      withBudgets(
        '{ monthlyUsdPerUser: -1, monthlyUsdPerAgent: 1.234, extra: 1 }',
        ', budget: { monthlyUsd: "ten", stopped: maybe }',
      ),
    );
    expect(lines).toEqual(
      expect.arrayContaining([
        'budgets.monthlyUsdPerUser: monthlyUsdPerUser must be more than 0',
        'budgets.monthlyUsdPerAgent: monthlyUsdPerAgent must have at most two decimals (cents)',
        expect.stringMatching(/^budgets: unknown key "extra"/),
        'users[0] (alice).budget.monthlyUsd: must be a number, got "ten"',
        'users[0] (alice).budget.stopped: must be a boolean, got "maybe"',
      ]),
    );
  });

  it('refuses an agent limit above its user limit, and overrides without fleet budgets', () => {
    expect(problemLines(withBudgets('{ monthlyUsdPerUser: 50 }', '', ', budget: { monthlyUsd: 60 }'))).toEqual([
      "users[0] (alice).agents[0] (sales).budget.monthlyUsd: 60 USD is more than this user's monthly limit (50 USD): it could never be reached; lower it or raise the user's limit",
    ]);
    // The user's own limit is the one that counts.
    expect(() =>
      parseConfigText(
        withBudgets('{ monthlyUsdPerUser: 50 }', ', budget: { monthlyUsd: 70 }', ', budget: { monthlyUsd: 60 }'),
        'test.yaml',
      ),
    ).not.toThrow();
    expect(problemLines(withBudgets('', ', budget: { monthlyUsd: 70 }', ', budget: { monthlyUsd: 60 }'))).toEqual([
      'users[0] (alice).budget.monthlyUsd: a user limit needs budgets.monthlyUsdPerUser at the top of the file (limits are enforced only when budgets is set)',
      'users[0] (alice).agents[0] (sales).budget.monthlyUsd: an agent limit needs budgets.monthlyUsdPerUser at the top of the file (limits are enforced only when budgets is set)',
    ]);
  });
});

describe('budgets in the roster the functions read', () => {
  it('each agent carries its resolved limits and switches; none without budgets', () => {
    const config = parseConfigText(
      withBudgets(
        '{ monthlyUsdPerUser: 50, monthlyUsdPerAgent: 20 }',
        ', budget: { monthlyUsd: 80 }',
        ', budget: { stopped: true }',
      ),
      'test.yaml',
    );
    expect(rosterDirectory(config).users[0].agents[0].budget).toEqual({
      userMonthlyUsd: 80,
      agentMonthlyUsd: 20,
      userStopped: false,
      agentStopped: true,
    });
    expect(rosterDirectory(parseConfigText(withBudgets(''), 'test.yaml')).users[0].agents[0].budget).toBeUndefined();
    expect(
      rosterDirectory(parseConfigText(withBudgets('', ', budget: { stopped: true }'), 'test.yaml')).users[0].agents[0]
        .budget,
    ).toEqual({ userStopped: true, agentStopped: false });
  });
});
