/** How the console and the CLI word a month's usage (GET /v1/usage). */
import type { UsageLine } from '../../../runtime/shared/usage';

export const usd = (n: number): string => `$${n.toFixed(2)}`;

/** One short phrase per state; the over-budget ones say what happens to new messages. */
export function usageStateText(line: UsageLine): string {
  switch (line.state) {
    case 'stopped':
      return 'switched off by your administrator';
    case 'exhausted':
      return 'over budget: new messages are refused';
    case 'warning':
      return `near the limit (${percentOf(line)} %)`;
    case 'ok':
      return line.limitUsd === undefined ? 'no limit' : `${percentOf(line)} % used`;
  }
}

function percentOf(line: UsageLine): number {
  return line.limitUsd ? Math.floor((line.spentUsd / line.limitUsd) * 100) : 0;
}

/** `$3.20 of $10.00` or `$3.20` when no limit applies. */
export function spendText(line: UsageLine): string {
  return line.limitUsd === undefined ? usd(line.spentUsd) : `${usd(line.spentUsd)} of ${usd(line.limitUsd)}`;
}
