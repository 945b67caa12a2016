/** The CLI's commands over the shared API client; each prints plain lines, or JSON with --json. */
import { ApiClient, type AgentEvent } from '../console/src/core/api';
import { credentialPayload, credentialTargets, whoUsesIt } from '../console/src/core/credentials';
import { describeEvent, endsMessage, relativeTime, statusText, timeLeft } from '../console/src/core/describe';
import { usageStateText, usd } from '../console/src/core/usage';
import type { UsageLine } from '../runtime/shared/usage';
import { CliError, EXIT } from './errors';
import { follow } from './follow';
import type { Connection } from './session';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** The whole of stdin, or a hidden prompt's answer when stdin is a terminal. */
  secret(question: string): Promise<string>;
  /** Aborted on Ctrl-C (tail stops cleanly). */
  readonly signal: AbortSignal;
}

export interface Context {
  readonly conn: Connection;
  readonly api: ApiClient;
  readonly io: Io;
  readonly json: boolean;
}

export function apiFor(conn: Connection): ApiClient {
  return new ApiClient({ baseUrl: conn.settings.apiUrl || conn.origin, token: () => conn.token() });
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

export async function agents({ api, io, json }: Context): Promise<number> {
  const list = await api.agents();
  if (json) return (io.out(JSON.stringify({ agents: list })), EXIT.ok);
  if (list.length === 0)
    return (io.out('You have no agents yet. Ask your platform team to add one to the roster.'), EXIT.ok);
  const now = Date.now();
  for (const line of table([
    ['AGENT', 'STATUS', 'PROVIDER', 'LAST ACTIVITY'],
    ...list.map((a) => [a.agentId, statusText(a), a.provider, relativeTime(a.lastActivityAt ?? a.startedAt, now)]),
  ]))
    io.out(line);
  return EXIT.ok;
}

export async function usage({ api, io, json }: Context): Promise<number> {
  const view = await api.usage();
  if (json) return (io.out(JSON.stringify(view)), EXIT.ok);
  io.out(`Usage in ${view.month} (resets ${view.resetsAt.slice(0, 10)}):`);
  for (const line of table([
    ['', 'SPENT', 'LIMIT', 'STATE', 'MESSAGES', 'TOKENS IN/OUT'],
    ['you (all agents)', ...usageCells(view.user)],
    ...view.agents.map((a) => [a.agentId, ...usageCells(a)]),
  ]))
    io.out(line);
  const unpriced = view.user.unpricedMessages;
  if (unpriced > 0)
    io.out(
      `${unpriced} message${unpriced === 1 ? '' : 's'} had no price (Codex and Gemini print tokens, not dollars): not counted in SPENT.`,
    );
  return EXIT.ok;
}

function usageCells(line: UsageLine): string[] {
  return [
    usd(line.spentUsd),
    line.limitUsd === undefined ? 'none' : usd(line.limitUsd),
    usageStateText(line),
    String(line.messages),
    `${line.inputTokens}/${line.outputTokens}`,
  ];
}

export async function wakeOrSleep(
  { api, io, json }: Context,
  what: 'wake' | 'sleep',
  agentId: string,
): Promise<number> {
  const result = await api[what](agentId);
  if (json) return (io.out(JSON.stringify(result)), EXIT.ok);
  const said: Record<string, string> = {
    started: `${agentId} is starting.`,
    active: `${agentId} is already awake.`,
    pending: `${agentId} is stopping; it starts again as soon as it has stopped.`,
    stopping: `${agentId} is going to sleep.`,
    stopped: `${agentId} is already asleep.`,
  };
  io.out(said[result.outcome] ?? `${agentId}: ${result.outcome}`);
  return EXIT.ok;
}

export function eventLine(agentId: string, event: AgentEvent): string {
  const d = describeEvent(event);
  const time = event.at.slice(11, 19);
  return `${time} ${agentId} #${event.seq} ${d.kind}: ${d.text}${d.kind === 'problem' ? ` (request id: ${d.requestId})` : ''}`;
}

export async function send(
  ctx: Context,
  agentId: string,
  text: string,
  options: { wait: boolean; timeoutMs: number },
): Promise<number> {
  const { api, io, json } = ctx;
  // The cursor before the message exists, so nothing about it can be missed.
  const after = options.wait ? await api.lastSeq(agentId) : 0;
  const sent = await api.send(agentId, text);
  if (!options.wait) {
    io.out(json ? JSON.stringify(sent) : `Sent (message ${sent.messageId}).`);
    return EXIT.ok;
  }
  return new Promise<number>((resolve) => {
    let code: number = EXIT.timeout;
    const stream = follow(
      ctx.conn,
      api,
      agentId,
      after,
      (event) => {
        if (event.messageId !== sent.messageId) return;
        if (json) io.out(JSON.stringify(event));
        else if (event.type === 'reply') io.out(String(event.data.text ?? ''));
        else if (event.type === 'approval.requested')
          io.err(
            `Waiting for your approval: ${describeEvent(event).text} — run "cubicle approve ${String(event.data.approvalId)}" or "cubicle deny ${String(event.data.approvalId)}".`,
          );
        else if (describeEvent(event).kind === 'problem')
          io.err(`${describeEvent(event).text} (request id: ${event.requestId})`);
        if (endsMessage(event)) {
          code = event.type === 'message.done' ? EXIT.ok : EXIT.failure;
          stream.stop();
        }
      },
      (note) => io.err(note),
    );
    const timer = setTimeout(() => {
      io.err(
        `No answer within ${Math.round(options.timeoutMs / 1000)} s; the message is stored and the agent will still answer (see "cubicle tail ${agentId}").`,
      );
      stream.stop();
    }, options.timeoutMs);
    const onAbort = () => stream.stop();
    io.signal.addEventListener('abort', onAbort);
    void stream.done.then(() => {
      clearTimeout(timer);
      io.signal.removeEventListener('abort', onAbort);
      resolve(code);
    });
  });
}

export async function tail(ctx: Context, agentId: string, from: number | undefined): Promise<number> {
  const { api, io, json } = ctx;
  const after = from ?? (await api.lastSeq(agentId));
  if (!json) io.err(`Following ${agentId} from event ${after + 1} (Ctrl-C to stop).`);
  const stream = follow(
    ctx.conn,
    api,
    agentId,
    after,
    (event) => io.out(json ? JSON.stringify({ agentId, ...event }) : eventLine(agentId, event)),
    (note) => io.err(note),
  );
  if (io.signal.aborted) stream.stop();
  io.signal.addEventListener('abort', () => stream.stop());
  await stream.done;
  return EXIT.ok;
}

export async function approvals({ api, io, json }: Context): Promise<number> {
  const list = await api.approvals();
  if (json) return (io.out(JSON.stringify({ approvals: list })), EXIT.ok);
  if (list.length === 0) return (io.out('Nothing is waiting for your approval.'), EXIT.ok);
  const now = Date.now();
  for (const line of table([
    ['ID', 'AGENT', 'TOOL', 'HOSTS', 'TIME LEFT', 'SUMMARY'],
    ...list.map((a) => [
      a.approvalId,
      a.agentId,
      a.tool,
      a.hosts.join(',') || '-',
      timeLeft(a.expiresAt, now),
      a.summary.replace(/\s+/g, ' ').slice(0, 80),
    ]),
  ]))
    io.out(line);
  return EXIT.ok;
}

export async function decide(
  { api, io, json }: Context,
  decision: 'approve' | 'deny',
  approvalId: string,
  agentId?: string,
): Promise<number> {
  const agent = agentId ?? (await api.approvals()).find((a) => a.approvalId === approvalId)?.agentId;
  if (!agent)
    throw new CliError(
      `No pending approval ${approvalId} (it may have been decided or have expired); "cubicle approvals" lists them.`,
      EXIT.notFound,
    );
  const result = await api.decide(approvalId, agent, decision);
  io.out(
    json
      ? JSON.stringify(result)
      : decision === 'approve'
        ? `Approved: ${agent} goes ahead.`
        : `Denied: ${agent} will not make the call.`,
  );
  return EXIT.ok;
}

export async function credentialSet(
  { api, io, json }: Context,
  name: string,
  kind: string | undefined,
): Promise<number> {
  const target = credentialTargets(await api.agents()).find((t) => t.name === name);
  if (!target)
    throw new CliError(
      `None of your agents uses "${name}" (a provider or connection name; "cubicle agents --json" shows them).`,
      EXIT.notFound,
    );
  if (kind && target.kind === 'connection')
    throw new CliError('--kind applies to provider credentials only.', EXIT.usage);
  if (kind && !target.kinds.includes(kind))
    throw new CliError(`--kind must be one of ${target.kinds.join(', ')} for ${name}.`, EXIT.usage);
  const value = await io.secret(
    `${target.kind === 'provider' ? `${kind ?? target.kinds[0] ?? 'api-key'} for ${name}` : `Token for ${name}`}: `,
  );
  let payload: string;
  try {
    payload = credentialPayload(target, kind ?? target.kinds[0], value);
  } catch (error) {
    throw new CliError((error as Error).message, EXIT.usage);
  }
  if (target.kind === 'provider') await api.storeProviderCredential(name, payload);
  else await api.storeConnectionCredential(name, payload);
  io.out(
    json
      ? JSON.stringify({ stored: name, kind: target.kind })
      : `Stored your ${name} credential; ${whoUsesIt(target.agents)} from the next start.`,
  );
  return EXIT.ok;
}
