/**
 * Usage the CLIs report in their JSON output, and the event types that carry it. One module so the
 * runtime's adapters, the control plane's counter and the notifier agree on names and shapes.
 *
 * What each pinned CLI prints:
 * - Claude Code (`stream-json`): the final `result` line has `usage` (input, output, cache tokens) and
 *   `total_cost_usd`, the CLI's own price for the run.
 * - Codex (`exec --json`): `turn.completed` has `usage` (`input_tokens`, `cached_input_tokens`,
 *   `output_tokens`) and no cost.
 * - Gemini CLI (`stream-json`): the final `result` line has `stats` (`input_tokens`, `output_tokens`,
 *   `cached`) and no cost.
 * Where a CLI prints no cost, the cost is unknown (`costUsd` absent) and counts 0 against a budget:
 * tokens are recorded, never priced from a guessed table.
 */

/** Event type of one message's usage (data: Usage). */
export const USAGE_EVENT = 'usage';
/** Event type when a user's spend this month crosses BUDGET_WARN_PERCENT of the limit (once a month). */
export const BUDGET_THRESHOLD_EVENT = 'budget.threshold';
/** Share of the monthly limit at which the employee is told. */
export const BUDGET_WARN_PERCENT = 80;

export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
  /** US dollars as the CLI printed it; absent when the CLI prints no cost. */
  readonly costUsd?: number;
}

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : 0);

/** A Usage from a CLI's token fields, or undefined when the line carries none. */
export function usageFrom(fields: {
  input: unknown;
  output: unknown;
  cached?: unknown;
  costUsd?: unknown;
}): Usage | undefined {
  if (fields.input === undefined && fields.output === undefined) return undefined;
  const cost = fields.costUsd;
  return {
    inputTokens: count(fields.input),
    outputTokens: count(fields.output),
    cachedInputTokens: count(fields.cached),
    ...(typeof cost === 'number' && Number.isFinite(cost) && cost >= 0 ? { costUsd: cost } : {}),
  };
}

// GET /v1/usage (runtime/control-plane/usage-view.ts), as the console and the CLI read it.

/** `ok`, `warning` (80 % or more), `exhausted` (new messages are refused), `stopped` (a kill switch). */
export type UsageState = 'ok' | 'warning' | 'exhausted' | 'stopped';

export interface UsageLine {
  readonly spentUsd: number;
  /** Absent: no limit applies. */
  readonly limitUsd?: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
  readonly messages: number;
  /** Messages whose CLI printed no cost (Codex, Gemini): their tokens count, their cost is not known. */
  readonly unpricedMessages: number;
  readonly state: UsageState;
}

export interface UsageView {
  readonly month: string;
  readonly resetsAt: string;
  readonly user: UsageLine;
  readonly agents: readonly ({ readonly agentId: string } & UsageLine)[];
}
