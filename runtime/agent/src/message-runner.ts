import type { Redactor } from '../../shared/redact';
import type { InboxRow } from '../../shared/rows';
import type { ApprovalStore } from './approvals';
import type { ChildExit } from './child';
import type { RuntimeConfig } from './config';
import { DEFAULT_SCHEDULED_RUN_MINUTES, type ScheduledOutbound } from '../../shared/schedules';
import { USAGE_EVENT } from '../../shared/usage';
import { classify, decide, decideUnattended, summarize } from './guard';
import { GUARD_SOCKET_ENV, type GuardRequest, type GuardResponse } from './guard-protocol';
import { realPath } from './guard-shell';
import type { Logger } from './log';
import type { ParsedEvent, ProviderAdapter, RunContext } from './providers/types';
import type { ModelCredentialSource } from './model-credentials';
import type { LoadedSecrets } from './secrets';
import type { EventSink, RelayInbox, OpenedInboxRow, RelaySessionRow } from './relay-rows';
import type { CliRun, WorkbenchLink } from './workbench-link';
import type { Hello, ModelSession } from './workbench-protocol';

/** Largest text kept in one event (DynamoDB items stop at 400 KB). */
const MAX_EVENT_TEXT = 64 * 1024;
const MAX_SUMMARY = 500;
const STDERR_TAIL_LINES = 20;

export interface RunnerOptions {
  readonly config: RuntimeConfig;
  readonly adapter: ProviderAdapter;
  readonly secrets: LoadedSecrets;
  /** Where the workbench keeps the CLI's home and temporary files (its hello). */
  readonly place: Hello;
  readonly workbench: WorkbenchLink;
  readonly guardSocket: string;
  readonly sessions: RelaySessionRow;
  readonly inbox: RelayInbox;
  readonly events: EventSink;
  readonly approvals: ApprovalStore;
  readonly redactor: Redactor;
  readonly log: Logger;
  readonly now: () => number;
  readonly abortSignal: AbortSignal;
  readonly inherited: NodeJS.ProcessEnv;
  /** Bedrock agents: where each run's model session comes from (model-credentials.ts). */
  readonly modelCredentials?: ModelCredentialSource;
}

interface Current {
  readonly row: InboxRow;
  readonly log: Logger;
  /** Aborted when the task stops or the CLI run ends: pending approval waits give up. */
  readonly abort: AbortController;
  /** Guard questions being answered, awaited before the message is closed. */
  readonly inflight: Set<Promise<unknown>>;
  /** Set for a scheduled message: its outbound policy and run cap replace the agent's policy. */
  readonly unattended?: UnattendedPolicy;
}

interface UnattendedPolicy {
  readonly key: string;
  readonly outbound: ScheduledOutbound;
  readonly maxRunMs: number;
}

const HOST_SHAPE = /^[a-z0-9.-]{1,253}$/;

/**
 * The schedule policy of a scheduled message, read fail-closed: a malformed policy denies every outbound
 * call and keeps the default cap; a row without one is an employee's message (undefined).
 */
export function unattendedPolicy(row: InboxRow): UnattendedPolicy | undefined {
  const s = row.schedule as unknown;
  if (s === undefined || s === null) return undefined;
  const raw = (typeof s === 'object' ? s : {}) as Record<string, unknown>;
  const hosts =
    Array.isArray(raw.outbound) &&
    raw.outbound.length > 0 &&
    raw.outbound.every((h) => typeof h === 'string' && HOST_SHAPE.test(h))
      ? (raw.outbound as string[])
      : undefined;
  const cap =
    typeof raw.maxRunMs === 'number' && Number.isInteger(raw.maxRunMs) && raw.maxRunMs > 0
      ? raw.maxRunMs
      : DEFAULT_SCHEDULED_RUN_MINUTES * 60_000;
  return {
    key: typeof raw.key === 'string' ? raw.key.slice(0, 80) : 'unknown',
    outbound: hosts ?? 'deny',
    maxRunMs: cap,
  };
}

/**
 * Runs one inbox message through the provider CLI: claim it, start the CLI, turn its stream into
 * events, answer its tool-guard questions, heartbeat while it runs, and record how it ended.
 */
export class MessageRunner {
  private current: Current | undefined;
  private resumeId: string | undefined;
  private readonly connectionHosts: string[];

  constructor(private readonly o: RunnerOptions) {
    this.connectionHosts = o.config.env.CUBICLE_CONNECTIONS.flatMap((c) => c.hosts);
  }

  /**
   * Processes one message. Returns true when the message is finished (done, failed, interrupted or
   * given up), so the caller may move its cursor past it.
   */
  async process(
    next: InboxRow,
    stopping: () => string | undefined,
    setChild: (child: CliRun) => void,
  ): Promise<boolean> {
    const { o } = this;
    const row = await o.inbox.claim(next, o.now());
    if (!row) return true; // finished by someone else meanwhile
    const log = o.log.child({ request_id: row.requestId, message_id: row.sk });
    const base = { requestId: row.requestId, messageId: row.sk };
    const maxAttempts = o.config.tuning.CUBICLE_MAX_MESSAGE_ATTEMPTS;
    if ((row.attempts ?? 1) > maxAttempts) {
      log.warn('message given up', { attempts: row.attempts });
      return this.fail(row);
    }
    const unreadable = (row as OpenedInboxRow).unreadable;
    if (unreadable) {
      // Not sealed for this pair under its user's key: written by someone other than the control plane.
      log.error('message refused: its sealed body could not be opened', { reason: unreadable });
      return this.fail(row);
    }
    let model: ModelSession | undefined;
    try {
      model = await o.modelCredentials?.forRun();
    } catch (error) {
      // Without a model session the CLI cannot answer: the employee gets the apology, operators the cause.
      log.error('message failed: no model session', { error: error as Error });
      return this.fail(row);
    }

    const unattended = unattendedPolicy(row);
    const abort = new AbortController();
    const onStop = () => abort.abort();
    o.abortSignal.addEventListener('abort', onStop, { once: true });
    const current: Current = { row, log, abort, inflight: new Set(), unattended };
    this.current = current;
    await o.events.append({
      ...base,
      type: 'message.started',
      data: { attempt: row.attempts ?? 1, ...(unattended ? { scheduleId: unattended.key } : {}) },
    });
    log.info('message started', { attempt: row.attempts ?? 1, bytes: Buffer.byteLength(row.body) });
    const heartbeat = this.startHeartbeat(log);
    const pending: Promise<unknown>[] = [];
    const emit = (type: string, data: Record<string, unknown>) =>
      pending.push(
        o.events
          .append({ ...base, type, data: this.clean(data) })
          .catch((error: Error) => log.error('event not recorded', { type, error })),
      );
    const stderrTail: string[] = [];
    let result: ParsedEvent | undefined;
    const counts = { reply: 0, tool: 0, file: 0 };
    const onParsed = (events: ParsedEvent[]) => {
      for (const event of events) {
        switch (event.kind) {
          case 'session':
            this.resumeId = event.id;
            break;
          case 'reply':
            counts.reply += 1;
            emit('reply', { text: event.text });
            break;
          case 'tool':
            counts.tool += 1;
            emit('tool.call', {
              tool: event.name,
              ...(event.id ? { toolUseId: event.id } : {}),
              summary: summarize({ tool: event.name, input: event.input }),
            });
            break;
          case 'file':
            counts.file += 1;
            emit('file.written', { path: event.path, change: event.change });
            break;
          case 'usage':
            emit(USAGE_EVENT, { ...event.usage });
            break;
          case 'result':
            result = event;
            break;
        }
      }
    };

    let exit: ChildExit;
    let capTimer: NodeJS.Timeout | undefined;
    let capped = false;
    try {
      const context = this.context();
      const parser = o.adapter.parser();
      // The CLI runs in the workbench, under another uid, without the supervisor's environment.
      const child = o.workbench.run({
        command: o.adapter.command,
        args: o.adapter.args(context),
        env: this.childEnv(context),
        cwd: o.config.tuning.CUBICLE_WORKSPACE,
        stdin: row.body,
        files: o.adapter.files(context),
        ...(model
          ? {
              model: {
                accessKeyId: model.accessKeyId,
                secretAccessKey: model.secretAccessKey,
                sessionToken: model.sessionToken,
              },
            }
          : {}),
        onStdoutLine: (line) => onParsed(parser.line(line)),
        onStderrLine: (line) => {
          stderrTail.push(line.slice(0, 500));
          if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
        },
      });
      setChild(child);
      if (stopping()) void child.stop(o.config.tuning.CUBICLE_STOP_GRACE_MS);
      // A scheduled run is stopped at its cap like a sleep: SIGTERM, the grace period, SIGKILL.
      if (unattended) {
        capTimer = setTimeout(() => {
          capped = true;
          abort.abort();
          void child.stop(o.config.tuning.CUBICLE_STOP_GRACE_MS);
        }, unattended.maxRunMs);
      }
      exit = await child.exited;
      onParsed(parser.end());
    } finally {
      clearTimeout(capTimer);
      // A question the CLI can no longer hear the answer to is closed (its approval expired) first.
      abort.abort();
      o.abortSignal.removeEventListener('abort', onStop);
      await Promise.allSettled([...current.inflight]);
      heartbeat.stop();
      this.current = undefined;
    }
    await Promise.all(pending);
    await heartbeat.beat(); // the run itself was activity

    const reason =
      stopping() ??
      (capped && unattended ? `the scheduled run reached its time cap (${capText(unattended.maxRunMs)})` : undefined);
    const fields = { exit_code: exit.code, signal: exit.signal, killed: exit.killed, ...counts };
    if (reason) {
      log.warn('message interrupted', { reason, ...fields });
      await o.events.append({ ...base, type: 'message.interrupted', data: { reason, killed: exit.killed } });
      await this.finish(row, 'interrupted');
    } else if (exit.code === 0 && (!result || (result.kind === 'result' && result.ok))) {
      log.info('message done', fields);
      await o.events.append({ ...base, type: 'message.done', data: {} });
      await this.finish(row, 'done');
    } else {
      // The detail is for operators (redacted by the logger); the employee gets a plain message and the request id.
      const error = result?.kind === 'result' ? result.error : undefined;
      log.warn('message failed', {
        ...fields,
        spawn_error: exit.spawnError,
        cli_error: error,
        stderr_tail: stderrTail.join('\n'),
      });
      await o.events.append({ ...base, type: 'message.failed', data: failedForEmployee(row.requestId) });
      await this.finish(row, 'failed');
    }
    return true;
  }

  /** Answers a hook's question about one tool call. */
  guard(request: GuardRequest): Promise<GuardResponse> {
    const current = this.current;
    if (!current) return Promise.resolve({ decision: 'deny', reason: 'no message is being processed' });
    if (current.abort.signal.aborted) return Promise.resolve({ decision: 'deny', reason: 'the agent is stopping' });
    const answer = this.answer(current, request);
    current.inflight.add(answer);
    void answer.finally(() => current.inflight.delete(answer)).catch(() => undefined);
    return answer;
  }

  private async answer(current: Current, request: GuardRequest): Promise<GuardResponse> {
    const { o } = this;
    const base = { requestId: current.row.requestId, messageId: current.row.sk };
    const { tuning } = o.config;
    const paths = { workspace: tuning.CUBICLE_WORKSPACE, runDir: o.place.runDir, resolve: realPath };
    const classification = classify({ tool: request.tool, input: request.input }, paths);
    const summary = this.clean({ s: classification.summary }).s as string;
    // A scheduled message carries its own policy: nobody is there to approve, so it never waits.
    const verdict = current.unattended
      ? decideUnattended(current.unattended.outbound, classification, this.connectionHosts)
      : decide(o.config.env.CUBICLE_OUTBOUND_POLICY, classification, this.connectionHosts);
    current.log.info('tool guard', {
      tool: request.tool,
      outbound: classification.outbound,
      hosts: classification.hosts.length,
      action: verdict.action,
    });
    // Every call the guard lets through is on the record too, with the verdict and the redacted summary.
    const allowed = async (reason: string) => {
      await o.events.append({
        ...base,
        type: 'tool.allowed',
        data: this.clean({
          tool: request.tool,
          reason,
          outbound: classification.outbound,
          hosts: classification.hosts,
          summary,
        }),
      });
      return { decision: 'allow', reason } as const;
    };
    if (verdict.action === 'allow') return allowed(verdict.reason);
    if (verdict.action === 'deny') {
      await o.events.append({
        ...base,
        type: 'tool.denied',
        data: this.clean({ tool: request.tool, reason: verdict.reason, hosts: classification.hosts, summary }),
      });
      return { decision: 'deny', reason: verdict.reason };
    }
    const approval = await o.approvals.create({ ...base, tool: request.tool, summary, hosts: classification.hosts });
    await o.events.append({
      ...base,
      type: 'approval.requested',
      data: this.clean({
        approvalId: approval.sk,
        tool: request.tool,
        summary,
        hosts: classification.hosts,
        expiresAt: approval.expiresAt,
      }),
    });
    const outcome = await o.approvals.wait(approval, current.abort.signal);
    await o.events.append({
      ...base,
      type: 'approval.resolved',
      data: {
        approvalId: outcome.approvalId,
        status: outcome.status,
        ...(outcome.decidedBy ? { decidedBy: outcome.decidedBy } : {}),
      },
    });
    current.log.info('approval resolved', { approval_id: outcome.approvalId, status: outcome.status });
    switch (outcome.status) {
      case 'approved':
        return allowed('approved by the employee');
      case 'denied':
        return { decision: 'deny', reason: 'the employee denied this call; do not retry it' };
      case 'expired':
        return { decision: 'deny', reason: 'no approval arrived in time; the call was not made' };
      default:
        return { decision: 'deny', reason: 'the agent is stopping' };
    }
  }

  /** Ends a message the CLI never ran: the employee's apology with the request id, the row finished as failed. */
  private async fail(row: InboxRow): Promise<true> {
    await this.o.events.append({
      requestId: row.requestId,
      messageId: row.sk,
      type: 'message.failed',
      data: failedForEmployee(row.requestId),
    });
    await this.finish(row, 'failed');
    return true;
  }

  private async finish(row: InboxRow, state: 'done' | 'failed' | 'interrupted'): Promise<void> {
    await this.o.inbox.finish(row.sk, state, this.o.now());
    if (!(await this.o.sessions.advanceCursor(row.sk))) {
      this.o.log.warn('inbox cursor not saved (no session row for this task)', { message_id: row.sk });
    }
  }

  private context(): RunContext {
    return {
      home: this.o.place.home,
      workspace: this.o.config.tuning.CUBICLE_WORKSPACE,
      credential: this.o.secrets.provider,
      bedrockModels: this.o.config.bedrockModels,
      inherited: this.o.inherited,
      resumeId: this.resumeId,
      // First message of a wake after an earlier one: continue the CLI's latest conversation in its home.
      continueLatest: !this.resumeId && this.o.place.resumable === true,
    };
  }

  /**
   * The child's whole environment, built from scratch: the supervisor's own variables do not leak, and the
   * workbench drops anything naming an AWS identity or the task metadata even if an adapter added it.
   */
  private childEnv(context: RunContext): Record<string, string> {
    const { inherited, place } = this.o;
    const env: Record<string, string> = {
      PATH: place.path,
      HOME: place.home,
      TMPDIR: place.tmp,
      LANG: 'C.UTF-8',
      TZ: inherited.TZ || 'UTC',
      TERM: 'dumb',
      NO_COLOR: '1',
      GIT_TERMINAL_PROMPT: '0',
      [GUARD_SOCKET_ENV]: this.o.guardSocket,
    };
    for (const [id, value] of this.o.secrets.connections) env[connectionEnvName(id)] = value;
    return { ...env, ...this.o.adapter.env(context) };
  }

  private startHeartbeat(log: Logger): { beat(): Promise<void>; stop(): void } {
    let warned = false;
    const beat = async () => {
      try {
        const ok = await this.o.sessions.heartbeat(this.o.now());
        if (!ok && !warned) {
          warned = true;
          log.warn('heartbeat not recorded (session row missing or names another task)');
        }
      } catch (error) {
        log.warn('heartbeat failed', { error: error as Error });
      }
    };
    void beat();
    const timer = setInterval(() => void beat(), this.o.config.tuning.CUBICLE_HEARTBEAT_INTERVAL_MS);
    return { beat, stop: () => clearInterval(timer) };
  }

  /** Redacts and bounds event data. */
  private clean(data: Record<string, unknown>): Record<string, unknown> {
    const redacted = this.o.redactor.redactValue(data);
    return Object.fromEntries(
      Object.entries(redacted).map(([k, v]) => [
        k,
        typeof v === 'string' ? limit(v, k === 'summary' || k === 's' ? MAX_SUMMARY : MAX_EVENT_TEXT) : v,
      ]),
    );
  }
}

/** What an employee reads when a message fails: plain words and the request id to quote, never the CLI's output. */
export function failedForEmployee(requestId: string): Record<string, unknown> {
  return {
    message: `Your agent could not finish this message. Try again; if it keeps failing, quote request id ${requestId} to your platform team.`,
    requestId,
  };
}

/** `bank-feed` → `CUBICLE_CONNECTION_BANK_FEED_SECRET`. */
export function connectionEnvName(id: string): string {
  return `CUBICLE_CONNECTION_${id.toUpperCase().replace(/-/g, '_')}_SECRET`;
}

function capText(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}

function limit(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… [truncated ${text.length - max} characters]`;
}
