/** This month's spend: a summary for the employee and one cell per agent (GET /v1/usage). */
import type { UsageLine, UsageView } from '../../../../runtime/shared/usage';
import { spendText, usageStateText } from '../../core/usage';

const OVER = new Set<UsageLine['state']>(['exhausted', 'stopped']);

export function UsageSummary({ usage }: { usage: UsageView }) {
  const { user } = usage;
  const over = OVER.has(user.state);
  return (
    <section class={`card usage ${user.state}`} aria-label="Usage this month">
      <h2>Usage this month</h2>
      <p>
        <strong>{spendText(user)}</strong> <span class={`pill usage-${user.state}`}>{usageStateText(user)}</span>
      </p>
      {over && (
        <p role="alert">
          {user.state === 'stopped'
            ? 'Your agents take no new messages until your administrator switches them back on.'
            : `Your agents take no new messages until the budget resets on ${usage.resetsAt.slice(0, 10)}. Queued messages are kept and run once the budget allows.`}
        </p>
      )}
      {user.unpricedMessages > 0 && (
        <p class="muted">
          {user.unpricedMessages} message{user.unpricedMessages === 1 ? '' : 's'} had no price (Codex and Gemini report
          tokens only) and count $0.
        </p>
      )}
    </section>
  );
}

export function UsageCell({ line }: { line: UsageLine | undefined }) {
  if (!line) return <span class="muted">–</span>;
  return (
    <span>
      {spendText(line)}
      {line.state !== 'ok' && ' '}
      {line.state !== 'ok' && <span class={`pill usage-${line.state}`}>{usageStateText(line)}</span>}
    </span>
  );
}
