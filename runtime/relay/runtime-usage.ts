/**
 * Budgets on the runtime's side of the relay: a runtime's `usage` event is added to the month's counters
 * of its user and agent (the pair from the verified connection, never from the frame), the 80 % notice is
 * appended once a month by the control plane (a runtime cannot append `budget.threshold`: it is not one
 * of EVENT_TYPES), and the inbox is held at 100 % or with a kill switch, so the supervisor starts no
 * further message: queued ones stay in the inbox, unclaimed, and run at a later wake once the budget
 * allows (next month, a raised limit).
 */
import { budgetDecision, pastWarning, resetsAt, monthOf, type BudgetLimits, type UsageLedger } from '../shared/budget';
import { parsePairKey } from '../shared/tables';
import { agentOf, type Roster } from '../control-plane/roster';
import { BUDGET_WARN_PERCENT, usageFrom, type Usage } from '../shared/usage';

export interface RuntimeBudgets {
  readonly ledger: UsageLedger;
  /** The roster's limits of a pair (absent: no limit and no switch; usage is still counted). */
  limitsOf(userId: string, agentId: string): BudgetLimits | undefined;
}

/** The roster's limits by pair. */
export function rosterLimits(roster: Roster): RuntimeBudgets['limitsOf'] {
  return (userId, agentId) => {
    const user = roster.user(userId);
    return user ? agentOf(user, agentId)?.budget : undefined;
  };
}

/** A usage frame's data; undefined when it carries no token counts. Costs above this are refused as bogus. */
const MAX_COST_PER_MESSAGE_USD = 10_000;
export function usageOfFrame(data: Record<string, unknown> | undefined): Usage | undefined {
  if (!data) return undefined;
  const cost = data.costUsd;
  return usageFrom({
    input: data.inputTokens,
    output: data.outputTokens,
    cached: data.cachedInputTokens,
    costUsd: typeof cost === 'number' && cost <= MAX_COST_PER_MESSAGE_USD ? cost : undefined,
  });
}

/**
 * Adds one message's usage to the counters; returns the month's 80 % notices to append: for the user, and
 * for the agent when it has its own limit, each only the first time its total reaches the line.
 */
export async function recordUsage(
  budgets: RuntimeBudgets,
  pair: string,
  usage: Usage,
  nowMs: number,
): Promise<Record<string, unknown>[]> {
  const { userId, agentId } = parsePairKey(pair);
  const totals = await budgets.ledger.record(userId, agentId, usage, nowMs);
  const limits = budgets.limitsOf(userId, agentId);
  if (!limits) return [];
  const notice = (scope: 'user' | 'agent', limitUsd: number, spentUsd: number) => ({
    scope,
    limitUsd,
    spentUsd: Math.round(spentUsd * 100) / 100,
    percent: BUDGET_WARN_PERCENT,
    month: monthOf(nowMs),
    resetsAt: resetsAt(nowMs),
  });
  const notices: Record<string, unknown>[] = [];
  if (pastWarning(limits.userMonthlyUsd, totals.user) && (await budgets.ledger.claimWarning(userId, nowMs)))
    notices.push(notice('user', limits.userMonthlyUsd!, totals.user.costUsd));
  if (pastWarning(limits.agentMonthlyUsd, totals.agent) && (await budgets.ledger.claimWarning(userId, nowMs, agentId)))
    notices.push(notice('agent', limits.agentMonthlyUsd!, totals.agent.costUsd));
  return notices;
}

/** Why the pair's inbox is held (`budget_exhausted` or `stopped`), or undefined when the next message may run. */
export async function inboxHold(budgets: RuntimeBudgets, pair: string, nowMs: number): Promise<string | undefined> {
  const { userId, agentId } = parsePairKey(pair);
  const limits = budgets.limitsOf(userId, agentId);
  if (!limits) return undefined;
  const none = budgetDecision(limits, { user: EMPTY, agent: EMPTY }, nowMs);
  if (none) return none.body.error;
  if (limits.userMonthlyUsd === undefined && limits.agentMonthlyUsd === undefined) return undefined;
  return budgetDecision(limits, await budgets.ledger.read(userId, agentId, nowMs), nowMs)?.body.error;
}

const EMPTY = { costUsd: 0, inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, messages: 0, unpricedMessages: 0 };
