/**
 * The budget check in front of every new message (POST /messages and scheduled runs): the roster's limits
 * and kill switches for the (user, agent), against this month's counters. A refusal stores nothing.
 */
import { budgetDecision, type BudgetRefusal, type UsageLedger } from '../shared/budget';
import type { RosterAgent } from './roster';

/**
 * The refusal for a new message of this agent, or undefined. Without a ledger (no counter table wired)
 * only the kill switches apply; with one, this month's spend is read (one consistent read per row).
 */
export async function budgetRefusal(
  ledger: UsageLedger | undefined,
  userId: string,
  agent: RosterAgent,
  nowMs: number,
): Promise<BudgetRefusal | undefined> {
  const limits = agent.budget;
  if (!limits) return undefined;
  const none = { costUsd: 0, inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, messages: 0, unpricedMessages: 0 };
  const switchedOff = budgetDecision(limits, { user: none, agent: none }, nowMs);
  if (switchedOff || !ledger || (limits.userMonthlyUsd === undefined && limits.agentMonthlyUsd === undefined))
    return switchedOff;
  return budgetDecision(limits, await ledger.read(userId, agent.id, nowMs), nowMs);
}
