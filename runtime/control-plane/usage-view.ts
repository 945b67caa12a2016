/**
 * GET /v1/usage: this month's spend of the verified user, in total and per agent, with the limits and the
 * state the console and the CLI show. Only the caller's own rows are read (the user id comes from the
 * token, never from the request).
 */
import {
  budgetDecision,
  EMPTY_USAGE,
  monthOf,
  pastWarning,
  resetsAt,
  type MonthUsage,
  type UsageLedger,
} from '../shared/budget';
import type { RosterUser } from './roster';
import type { UsageLine, UsageState, UsageView } from '../shared/usage';

function line(used: MonthUsage, limitUsd: number | undefined, state: UsageState): UsageLine {
  const { costUsd, ...counts } = used;
  return {
    spentUsd: Math.round(costUsd * 100) / 100,
    ...(limitUsd === undefined ? {} : { limitUsd }),
    ...counts,
    state,
  };
}

function stateOf(stopped: boolean, exhausted: boolean, limitUsd: number | undefined, used: MonthUsage): UsageState {
  if (stopped) return 'stopped';
  if (exhausted) return 'exhausted';
  return pastWarning(limitUsd, used) ? 'warning' : 'ok';
}

export async function usageView(ledger: UsageLedger | undefined, user: RosterUser, nowMs: number): Promise<UsageView> {
  const reads = await Promise.all(
    user.agents.map(async (agent) => ({
      agent,
      spent: ledger ? await ledger.read(user.id, agent.id, nowMs) : { user: EMPTY_USAGE, agent: EMPTY_USAGE },
    })),
  );
  // The user's limit and switch are the same on each of their agents (resolved from the config).
  const limits = user.agents[0]?.budget;
  const userUsed = reads[0]?.spent.user ?? EMPTY_USAGE;
  const userStopped = limits?.userStopped ?? false;
  const userExhausted =
    limits?.userMonthlyUsd !== undefined &&
    budgetDecision({ ...limits, agentMonthlyUsd: undefined, agentStopped: false }, { user: userUsed }, nowMs) !==
      undefined;
  return {
    month: monthOf(nowMs),
    resetsAt: resetsAt(nowMs),
    user: line(userUsed, limits?.userMonthlyUsd, stateOf(userStopped, userExhausted, limits?.userMonthlyUsd, userUsed)),
    agents: reads.map(({ agent, spent }) => {
      const used = spent.agent ?? EMPTY_USAGE;
      const refused = agent.budget ? budgetDecision(agent.budget, spent, nowMs) : undefined;
      const state: UsageState = refused
        ? refused.body.error === 'stopped'
          ? 'stopped'
          : 'exhausted'
        : pastWarning(agent.budget?.agentMonthlyUsd, used)
          ? 'warning'
          : 'ok';
      return { agentId: agent.id, ...line(used, agent.budget?.agentMonthlyUsd, state) };
    }),
  };
}
