/**
 * Monthly spend per user (and per agent) and the decision to accept a message. The counter rows are
 * updated with DynamoDB's atomic ADD, so concurrent messages of one user never lose an increment; cost
 * is kept in integer micro-dollars so sums stay exact. Months are calendar months in UTC.
 *
 * Rows (partition = user id, so a writer can be confined to one user with dynamodb:LeadingKeys):
 * - `{ pk: <userId>, sk: <yyyy-mm> }`: the user's month: costMicroUsd, inputTokens, outputTokens,
 *   cachedInputTokens, messages, unpricedMessages, warnedAt (set once, when 80 % is crossed).
 * - `{ pk: <userId>, sk: <yyyy-mm>#<agentId> }`: the same counters for one agent.
 */
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from './expressions';
import { BUDGET_WARN_PERCENT, type Usage } from './usage';

export const MICRO = 1_000_000;

/** `2026-11` for any instant of November 2026 (UTC). */
export function monthOf(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 7);
}

/** When the month of `epochMs` ends and its budget resets: the first instant of the next month, UTC. */
export function resetsAt(epochMs: number): string {
  const d = new Date(epochMs);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)).toISOString();
}

export const userRowKey = (userId: string, month: string) => ({ pk: userId, sk: month });
export const agentRowKey = (userId: string, agentId: string, month: string) => ({
  pk: userId,
  sk: `${month}#${agentId}`,
});

export interface MonthUsage {
  readonly costUsd: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
  readonly messages: number;
  /** Messages whose CLI printed no cost (tokens counted, cost unknown). */
  readonly unpricedMessages: number;
}

/** A month with no usage recorded. */
export const EMPTY_USAGE: MonthUsage = {
  costUsd: 0,
  inputTokens: 0,
  outputTokens: 0,
  cachedInputTokens: 0,
  messages: 0,
  unpricedMessages: 0,
};

function fromRow(row: Record<string, unknown> | undefined): MonthUsage {
  if (!row) return EMPTY_USAGE;
  const n = (k: string) => (typeof row[k] === 'number' ? (row[k] as number) : 0);
  return {
    costUsd: n('costMicroUsd') / MICRO,
    inputTokens: n('inputTokens'),
    outputTokens: n('outputTokens'),
    cachedInputTokens: n('cachedInputTokens'),
    messages: n('messages'),
    unpricedMessages: n('unpricedMessages'),
  };
}

/** The counters of one (user, month) and one (user, agent, month). */
export class UsageLedger {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Adds one message's usage to the user's and the agent's month; returns the new totals. */
  async record(
    userId: string,
    agentId: string,
    usage: Usage,
    atMs: number,
  ): Promise<{ user: MonthUsage; agent: MonthUsage }> {
    const month = monthOf(atMs);
    const [user, agent] = await Promise.all([
      this.add(userRowKey(userId, month), usage),
      this.add(agentRowKey(userId, agentId, month), usage),
    ]);
    return { user, agent };
  }

  async read(
    userId: string,
    agentId: string | undefined,
    atMs: number,
  ): Promise<{ user: MonthUsage; agent?: MonthUsage }> {
    const month = monthOf(atMs);
    const get = async (key: Record<string, string>) =>
      fromRow(
        (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }))).Item,
      );
    const user = await get(userRowKey(userId, month));
    return agentId === undefined ? { user } : { user, agent: await get(agentRowKey(userId, agentId, month)) };
  }

  /**
   * Claims the month's 80 % notice for a user (or, with `agentId`, for one agent): true for exactly one caller
   * per row and month, however many messages cross the line at once (a conditional write, not a
   * read-then-write).
   */
  async claimWarning(userId: string, atMs: number, agentId?: string): Promise<boolean> {
    const month = monthOf(atMs);
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: agentId === undefined ? userRowKey(userId, month) : agentRowKey(userId, agentId, month),
          UpdateExpression: 'SET #w = :at',
          ConditionExpression: 'attribute_not_exists(#w)',
          ExpressionAttributeNames: { '#w': 'warnedAt' },
          ExpressionAttributeValues: { ':at': atMs },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  private async add(key: Record<string, string>, usage: Usage): Promise<MonthUsage> {
    const priced = usage.costUsd !== undefined;
    const result = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression:
          'ADD costMicroUsd :c, inputTokens :i, outputTokens :o, cachedInputTokens :k, messages :one, unpricedMessages :u',
        ExpressionAttributeValues: {
          ':c': priced ? Math.round(usage.costUsd! * MICRO) : 0,
          ':i': usage.inputTokens,
          ':o': usage.outputTokens,
          ':k': usage.cachedInputTokens,
          ':one': 1,
          ':u': priced ? 0 : 1,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return fromRow(result.Attributes);
  }
}

// ---------------------------------------------------------------------------------------------
// Limits and the decision
// ---------------------------------------------------------------------------------------------

/** One user's limits as the roster carries them (resolved from config.budgets and the overrides). */
export interface BudgetLimits {
  /** Monthly limit of the user in USD; absent: no limit. */
  readonly userMonthlyUsd?: number;
  /** Monthly limit of this agent in USD; absent: only the user's limit. */
  readonly agentMonthlyUsd?: number;
  /** Kill switches. */
  readonly userStopped: boolean;
  readonly agentStopped: boolean;
}

/** The roster's budget fields from the config (kept in one place so the roster and local mode agree). */
export function limitsFromConfig(
  budgets: { monthlyUsdPerUser: number; monthlyUsdPerAgent?: number } | undefined,
  user: { budget?: { monthlyUsd?: number; stopped: boolean } },
  agent: { budget?: { monthlyUsd?: number; stopped: boolean } },
): BudgetLimits {
  return {
    ...(budgets ? { userMonthlyUsd: user.budget?.monthlyUsd ?? budgets.monthlyUsdPerUser } : {}),
    ...(budgets && (agent.budget?.monthlyUsd ?? budgets.monthlyUsdPerAgent) !== undefined
      ? { agentMonthlyUsd: agent.budget?.monthlyUsd ?? budgets.monthlyUsdPerAgent }
      : {}),
    userStopped: user.budget?.stopped ?? false,
    agentStopped: agent.budget?.stopped ?? false,
  };
}

export type BudgetRefusal = {
  readonly status: 402;
  readonly body: {
    readonly error: 'budget_exhausted' | 'stopped';
    readonly message: string;
    readonly scope: 'user' | 'agent';
    readonly limitUsd?: number;
    readonly spentUsd?: number;
    readonly resetsAt?: string;
  };
};

/** Whether a new message (or the next queued one) may start; a refusal is the API's 402 answer. */
export function budgetDecision(
  limits: BudgetLimits,
  spent: { user: MonthUsage; agent?: MonthUsage },
  nowMs: number,
): BudgetRefusal | undefined {
  if (limits.userStopped)
    return {
      status: 402,
      body: {
        error: 'stopped',
        scope: 'user',
        message: "this user's agents are switched off in the config (budget.stopped); ask an administrator",
      },
    };
  if (limits.agentStopped)
    return {
      status: 402,
      body: {
        error: 'stopped',
        scope: 'agent',
        message: 'this agent is switched off in the config (budget.stopped); ask an administrator',
      },
    };
  const resets = resetsAt(nowMs);
  const over = (
    scope: 'user' | 'agent',
    limit: number | undefined,
    used: MonthUsage | undefined,
  ): BudgetRefusal | undefined =>
    limit !== undefined && used !== undefined && used.costUsd >= limit
      ? {
          status: 402,
          body: {
            error: 'budget_exhausted',
            scope,
            limitUsd: limit,
            spentUsd: round2(used.costUsd),
            resetsAt: resets,
            message: `the monthly budget of ${limit} USD for this ${scope} is used up (${round2(used.costUsd)} USD spent); it resets at ${resets}`,
          },
        }
      : undefined;
  return over('user', limits.userMonthlyUsd, spent.user) ?? over('agent', limits.agentMonthlyUsd, spent.agent);
}

/** True when a spend is at or above the warning share of a limit (and the limit exists). */
export function pastWarning(limitUsd: number | undefined, spent: MonthUsage): boolean {
  return limitUsd !== undefined && spent.costUsd * 100 >= limitUsd * BUDGET_WARN_PERCENT;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
