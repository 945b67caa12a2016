/**
 * Events and agent states in plain language, for the console's conversation view and the CLI's `tail`.
 * The runtime and the control plane write the event types (runtime/shared/rows.ts); an unknown type is
 * shown by its name rather than hidden.
 */
import type { AgentEvent, AgentView } from './api';

export type EventKind = 'reply' | 'tool' | 'approval' | 'status' | 'problem';

export interface Described {
  readonly kind: EventKind;
  readonly text: string;
  /** Problems carry the request id to quote. */
  readonly requestId?: string;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const hostsOf = (data: Record<string, unknown>) => {
  const hosts = list(data.hosts);
  return hosts.length > 0 ? ` (${hosts.join(', ')})` : '';
};

export function describeEvent(event: AgentEvent): Described {
  const d = event.data ?? {};
  const problem = (text: string): Described => ({ kind: 'problem', text, requestId: event.requestId });
  switch (event.type) {
    case 'reply':
      return { kind: 'reply', text: str(d.text) ?? '' };
    case 'tool.call':
      return { kind: 'tool', text: `Used ${str(d.tool) ?? 'a tool'}${str(d.summary) ? `: ${d.summary}` : ''}` };
    case 'file.written':
      return { kind: 'tool', text: `${str(d.change) === 'deleted' ? 'Deleted' : 'Wrote'} ${str(d.path) ?? 'a file'}` };
    case 'tool.allowed':
      return {
        kind: 'tool',
        text: `Allowed ${str(d.tool) ?? 'a tool'}${hostsOf(d)}${str(d.reason) ? ` (${d.reason})` : ''}`,
      };
    case 'tool.denied':
      return problem(
        `Blocked ${str(d.tool) ?? 'a tool'}${hostsOf(d)}: ${str(d.reason) ?? 'not allowed for this agent'}`,
      );
    case 'approval.requested':
      return {
        kind: 'approval',
        text: `Asks to use ${str(d.tool) ?? 'a tool'}${hostsOf(d)}: ${str(d.summary) ?? ''}`.trim(),
      };
    case 'approval.decided':
      return { kind: 'approval', text: `You ${str(d.decision) === 'approved' ? 'approved' : 'denied'} the request.` };
    case 'approval.resolved': {
      const status = str(d.status);
      if (status === 'expired')
        return problem('Nobody answered the approval request in time, so the call was not made.');
      return {
        kind: 'approval',
        text:
          status === 'approved'
            ? 'Approval received; going ahead.'
            : status === 'denied'
              ? 'Request denied; the call was not made.'
              : 'The request was closed.',
      };
    }
    case 'message.started':
      return { kind: 'status', text: 'Working on your message…' };
    case 'message.done':
      return { kind: 'status', text: 'Done.' };
    case 'message.failed':
      return problem(
        `The agent could not finish this message${str(d.error) ? `: ${d.error}` : str(d.reason) ? `: ${d.reason}` : '.'}`,
      );
    case 'message.interrupted':
      return problem(
        `The agent stopped before finishing this message (${str(d.reason) ?? 'stopped'}). Send it again to retry.`,
      );
    case 'session.started':
      return { kind: 'status', text: 'Agent started.' };
    case 'session.stopping':
      return { kind: 'status', text: `Agent stopping (${str(d.reason) ?? 'stop requested'}).` };
    case 'lifecycle.running':
      return { kind: 'status', text: 'Agent is running.' };
    case 'lifecycle.stopped':
      return { kind: 'status', text: `Agent stopped${str(d.reason) ? ` (${d.reason})` : ''}.` };
    case 'lifecycle.failed':
      return problem(
        `The agent could not start${str(d.reason) ? `: ${d.reason}` : ''}. Try waking it again in a few minutes.`,
      );
    case 'lifecycle.sleep':
      return { kind: 'status', text: 'Put to sleep.' };
    case 'lifecycle.reap':
      return { kind: 'status', text: `Stopped by Cubicle${str(d.reason) ? `: ${d.reason}` : ''}.` };
    case 'lifecycle.orphan':
      return { kind: 'status', text: 'A stray task of this agent was stopped.' };
    case 'usage': {
      // Claude Code prints a cost; Codex and Gemini print tokens only (the run then counts $0).
      const tokens = (num(d.inputTokens) ?? 0) + (num(d.outputTokens) ?? 0);
      const cost = num(d.costUsd);
      return { kind: 'status', text: `Used ${tokens} tokens${cost === undefined ? '' : ` ($${cost.toFixed(2)})`}.` };
    }
    case 'budget.threshold': {
      const whose = str(d.scope) === 'agent' ? "This agent's" : 'Your';
      const spent = num(d.spentUsd);
      const limit = num(d.limitUsd);
      return problem(
        `${whose} spend this month reached ${num(d.percent) ?? 80} % of the budget${spent !== undefined && limit !== undefined ? ` ($${spent.toFixed(2)} of $${limit.toFixed(2)})` : ''}. New messages are refused once it is used up.`,
      );
    }
    default:
      return { kind: 'status', text: event.type };
  }
}

/** Whether an event ends the handling of a message (the CLI's `send` waits for one). */
export function endsMessage(event: AgentEvent): boolean {
  return event.type === 'message.done' || event.type === 'message.failed' || event.type === 'message.interrupted';
}

export const STATUS_TEXT: Record<string, string> = {
  STARTING: 'Starting',
  RUNNING: 'Awake',
  STOPPING: 'Going to sleep',
  STOPPED: 'Asleep',
  FAILED: 'Failed to start',
};

export function statusText(agent: Pick<AgentView, 'status' | 'wakePending'>): string {
  if (agent.status === 'STOPPING' && agent.wakePending) return 'Restarting';
  return STATUS_TEXT[agent.status] ?? agent.status;
}

/** "3 min ago", "just now", "2 h ago", or a date; for last activity. */
export function relativeTime(iso: string | undefined, now: number): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'unknown';
  const s = Math.round((now - t) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toISOString().slice(0, 10);
}

/** "4:59 left", "expired"; for an approval's expiry. */
export function timeLeft(expiresAt: string, now: number): string {
  const ms = Date.parse(expiresAt) - now;
  if (!(ms > 0)) return 'expired';
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')} left`;
}
