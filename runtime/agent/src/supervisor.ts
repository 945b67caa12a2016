import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Redactor } from '../../shared/redact';
import type { InboxRow } from '../../shared/rows';
import { ApprovalStore } from './approvals';

import { loadConfig, type RuntimeConfig } from './config';
import { GuardServer } from './guard-server';
import type { InboxOpener } from './inbox-opener';
import { loadInboxOpener } from './lazy-bundle';
import { Logger } from './log';
import { MessageRunner } from './message-runner';
import { ModelCredentialSource, modelSessionName, type AssumeModelRole } from './model-credentials';
import { adapterFor } from './providers';
import type { ProviderAdapter } from './providers/types';
import { loadSecrets, type LoadedSecrets } from './secrets';
import { RelayClient } from './relay-client';
import { RelayInbox, RelayEventLog, RelaySessionRow, type EventSink } from './relay-rows';
import { WorkbenchLink, type CliRun } from './workbench-link';
import { GUARD_SOCKET, type Hello } from './workbench-protocol';

/** `budget`: the control plane held the inbox (month's budget used up or a kill switch on). */
export type StopReason = 'sigterm' | 'deadline' | 'idle' | 'workbench' | 'budget';

/** Exit codes: 0 for every orderly stop; startup failures are distinct so ECS stop reasons tell them apart. */
export const EXIT = { ok: 0, failed: 1, config: 78 } as const;

/**
 * After SIGKILL, the time left to send the last events through the relay before the process exits
 * regardless (a few frames; ECS's stopTimeout leaves 15 s beyond the grace, AGENT_CONTAINER_STOP_TIMEOUT_SECONDS).
 */
export const FLUSH_BUDGET_MS = 5_000;

export interface AgentDeps {
  readonly env: NodeJS.ProcessEnv;
  /** Secrets Manager; its credentials (the task role's) also sign the relay connection. */
  readonly secrets: SecretsManagerClient;
  /**
   * Loads the module that opens the inbox's sealed messages under the user's key (the Encryption SDK and
   * KMS: its own bundle in the image, loaded after "ready"). Tests slow it down or make it fail.
   */
  readonly loadInboxOpener?: () => Promise<typeof import('./inbox-opener')>;
  /** Operator log sink (stdout in the container). */
  readonly write: (line: string) => void;
  /** Epoch ms the process started; the hard cap counts from here. */
  readonly startedAt: number;
  /** The task's ARN (ECS task metadata), read while the supervisor starts; recorded in session.started. */
  readonly taskArn?: string | Promise<string | undefined>;
  readonly now?: () => number;
  /** Bedrock agents: STS AssumeRole of the model invoker role, with the task role's credentials. */
  readonly assumeModelRole?: AssumeModelRole;
}

export interface RunningAgent {
  /** Resolves with the exit code once the agent has stopped (or failed to start). */
  readonly done: Promise<number>;
  stop(reason: StopReason): void;
}

/**
 * Starts the agent: validate the environment, load secrets, install skills, open the guard socket,
 * then serve the inbox until stopped by SIGTERM, the hard cap, or the idle timeout.
 */
export function startAgent(deps: AgentDeps): RunningAgent {
  const redactor = new Redactor();
  const root = new Logger(deps.write, redactor, { service: 'cubicle-agent' });
  const config = loadConfig(deps.env);
  if (!config.ok) {
    root.error('invalid environment', { problems: config.problems });
    return { done: Promise.resolve(EXIT.config), stop: () => undefined };
  }
  const supervisor = new Supervisor(deps, config.config, redactor, root);
  return { done: supervisor.run(), stop: (reason) => supervisor.stop(reason) };
}

class Supervisor {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly taskRequestId = `task-${randomUUID()}`;
  private readonly abort = new AbortController();
  private stopReason: StopReason | undefined;
  /** Bedrock agents: the model invoker's sessions for the CLI. */
  private modelCredentials: ModelCredentialSource | undefined;
  private child: CliRun | undefined;
  private lastActivity: number;
  private deadline: number;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private forceExit: ((code: number) => void) | undefined;
  private wakeUp: (() => void) | undefined;

  constructor(
    private readonly deps: AgentDeps,
    private readonly config: RuntimeConfig,
    private readonly redactor: Redactor,
    root: Logger,
  ) {
    const { env } = config;
    this.now = deps.now ?? Date.now;
    this.log = root.child({
      user_id: env.CUBICLE_USER_ID,
      agent_id: env.CUBICLE_AGENT_ID,
      deployment: env.CUBICLE_DEPLOYMENT,
    });
    this.lastActivity = this.now();
    this.deadline = deps.startedAt + env.CUBICLE_MAX_TASK_DURATION_MS;
    // The cap holds from the first instruction, before any AWS call can hang.
    this.armDeadline();
  }

  stop(reason: StopReason): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    clearTimeout(this.deadlineTimer);
    const grace = this.config.tuning.CUBICLE_STOP_GRACE_MS;
    this.log.info('stopping', { reason, agent_running: this.child !== undefined, grace_ms: grace });
    this.abort.abort();
    if (this.child) void this.child.stop(grace);
    // Whatever is still pending (a slow table write), the process ends after the grace and the flush budget.
    setTimeout(() => this.forceExit?.(EXIT.ok), grace + FLUSH_BUDGET_MS).unref();
  }

  async run(): Promise<number> {
    const forced = new Promise<number>((resolve) => (this.forceExit = resolve));
    const result = this.serve().catch((error: Error) => {
      this.log.error('agent failed', { error });
      return EXIT.failed;
    });
    const code = await Promise.race([result, forced]);
    clearTimeout(this.deadlineTimer);
    return code;
  }

  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const remaining = this.deadline - this.now();
    if (remaining <= 0) {
      this.stop('deadline');
      return;
    }
    // setTimeout holds at most 2^31-1 ms; re-arm until the deadline is within range.
    this.deadlineTimer = setTimeout(() => this.armDeadline(), Math.min(remaining, 2 ** 31 - 1));
  }

  private async serve(): Promise<number> {
    const { tuning } = this.config;
    // Listening first: the workbench connects while the secrets are read, before any CLI can exist.
    const workbench = new WorkbenchLink(tuning.CUBICLE_EXCHANGE_DIR, this.log);
    try {
      await workbench.listen();
    } catch (error) {
      this.log.error('could not open the workbench socket', { error: error as Error });
      return EXIT.failed;
    }
    void workbench.lost.then((why) => {
      if (this.stopReason) return;
      // The CLI's side of the task is gone (it exited, or a tool process killed it): the task ends, on the record.
      this.log.warn('workbench lost', { why });
      this.stop('workbench');
    });
    try {
      return await this.serveWith(workbench);
    } finally {
      await workbench.close();
    }
  }

  private async serveWith(workbench: WorkbenchLink): Promise<number> {
    const { env, tuning } = this.config;
    const adapter = adapterFor(env.CUBICLE_PROVIDER);
    if (env.CUBICLE_PROVIDER === 'bedrock') {
      // The task role stays here; the CLI gets sessions of the model invoker role, one per run at most an hour old.
      const assume = this.deps.assumeModelRole;
      if (!assume || !env.CUBICLE_BEDROCK_ROLE_ARN) {
        this.log.error('could not assume the model invoker role: no STS client or role ARN');
        return EXIT.failed;
      }
      this.modelCredentials = new ModelCredentialSource({
        assume,
        roleArn: env.CUBICLE_BEDROCK_ROLE_ARN,
        sessionName: modelSessionName(env.CUBICLE_USER_ID, env.CUBICLE_AGENT_ID),
        now: this.now,
        redact: (secret) => this.redactor.add(secret),
      });
    }
    // The relay is the only way to the control plane: the session's nonce, then every row, through it.
    const relay = new RelayClient({
      url: env.CUBICLE_RELAY_URL,
      region: this.deps.env.AWS_REGION ?? this.deps.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      credentials: () => this.deps.secrets.config.credentials(),
      log: this.log,
    });
    const started = await this.startUp(workbench, relay, adapter);
    if (!started) {
      // Whatever else was under way stops here: the relay now, the workbench link in serve().
      await relay.close(0);
      return EXIT.failed;
    }
    const { secrets, session, place, skills } = started;
    const sessions = new RelaySessionRow(relay);
    const self = { userId: env.CUBICLE_USER_ID, agentId: env.CUBICLE_AGENT_ID };
    const opener = this.inboxOpener(self);
    const inbox = new RelayInbox(relay, async (row) => (await opener())(row));
    const events = new RelayEventLog(relay);
    const approvals = new ApprovalStore(relay, {
      timeoutMs: tuning.CUBICLE_APPROVAL_TIMEOUT_MS,
      pollMs: tuning.CUBICLE_APPROVAL_POLL_MS,
      now: this.now,
    });
    if (session.deadlineAt !== undefined && session.deadlineAt < this.deadline) {
      this.deadline = session.deadlineAt; // the control plane's deadline started at wake, before this task
      this.armDeadline();
    }
    let cursor = session.inboxCursor;
    let nudged: boolean;
    relay.on('nudge', (what: string) => {
      if (what === 'inbox') {
        nudged = true;
        this.wakeUp?.();
      }
    });

    const guardSocket = path.join(tuning.CUBICLE_EXCHANGE_DIR, GUARD_SOCKET);
    const runner = this.runner(adapter, secrets, { place, workbench, guardSocket }, sessions, inbox, events, approvals);
    const guard = new GuardServer(
      guardSocket,
      (request) => runner.guard(request),
      (why) => this.log.warn('guard socket: request refused', { why }),
    );
    await guard.listen();

    const taskArn = await this.deps.taskArn;
    await events.append({
      type: 'session.started',
      requestId: this.taskRequestId,
      data: {
        provider: env.CUBICLE_PROVIDER,
        outbound: env.CUBICLE_OUTBOUND_POLICY,
        skills,
        ...(taskArn ? { taskArn } : {}),
      },
    });
    this.log.info('ready', {
      provider: env.CUBICLE_PROVIDER,
      outbound: env.CUBICLE_OUTBOUND_POLICY,
      skills: skills.length,
      connections: env.CUBICLE_CONNECTIONS.length,
      deadline_in_ms: this.deadline - this.now(),
    });
    // Only now the inbox opener loads (~0.1 s of CPU; before, it delayed "ready"), once the first inbox read is on
    // its way; a message that comes first waits for it, and one that finds it failed loads it again.
    setImmediate(() => {
      const loading = performance.now();
      opener().then(
        () => this.log.debug('inbox opener loaded', { load_ms: Math.round(performance.now() - loading) }),
        (error: Error) => this.log.warn('could not load the inbox opener; the next message tries again', { error }),
      );
    });

    try {
      while (!this.stopReason) {
        nudged = false;
        const next: InboxRow | undefined = await inbox.next(cursor);
        if (this.stopReason) break;
        if (next) {
          const finished = await runner.process(
            next,
            () => this.stopReason,
            (child) => (this.child = child),
          );
          this.child = undefined;
          if (finished) cursor = next.sk;
          this.lastActivity = this.now();
          continue;
        }
        if (inbox.held) {
          // Stopped at the message boundary: nothing more runs this session; queued messages wait in the inbox.
          this.log.info('inbox held by the budget', { reason: inbox.held });
          this.stop('budget');
          break;
        }
        const idleFor = this.now() - this.lastActivity;
        if (idleFor >= env.CUBICLE_IDLE_TIMEOUT_MS) {
          this.stop('idle');
          break;
        }
        // New messages are pushed (a nudge); the timer is a safety re-read and the idle check.
        if (!nudged) await this.pause(Math.min(tuning.CUBICLE_POLL_INTERVAL_MS, env.CUBICLE_IDLE_TIMEOUT_MS - idleFor));
      }
    } finally {
      // Never leave the CLI running behind a failed loop.
      if (this.child) await this.child.stop(tuning.CUBICLE_STOP_GRACE_MS);
      await guard.close();
    }
    await events
      .append({
        type: 'session.stopping',
        requestId: this.taskRequestId,
        data: { reason: this.stopReason ?? 'unknown' },
      })
      .catch((error: Error) => this.log.warn('could not record the stop', { error }));
    // Drain what is queued; stop() bounds the whole stop with the grace and the flush budget anyway.
    await relay.close(30_000);
    this.log.info('stopped', { reason: this.stopReason });
    return EXIT.ok;
  }

  /**
   * The start-up steps, each independent of the others, run side by side (issue 15: one after another they added
   * up to most of start-to-ready): read the secrets, connect to the relay, reach the workbench then install the
   * skills, and for Bedrock agents assume the model invoker role (at start, so a role that cannot be assumed stops
   * the task with one clear line instead of failing each message). The first step to fail is the one line logged;
   * undefined then, and the caller closes what had started (what fails after that failed because of it).
   */
  private async startUp(workbench: WorkbenchLink, relay: RelayClient, adapter: ProviderAdapter) {
    const { env, tuning } = this.config;
    let failed = false;
    const step = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
      Promise.resolve()
        .then(fn)
        .catch((error: unknown) => {
          if (!failed) this.log.error(`could not ${what}`, { error: error as Error });
          failed = true;
          throw error;
        });
    const models = this.modelCredentials;
    try {
      const [secrets, session, { place, skills }] = await Promise.all([
        step('read secrets', () => loadSecrets(this.deps.secrets, env, this.redactor)),
        step('connect to the relay', () =>
          withTimeout(relay.start(), tuning.CUBICLE_RELAY_START_TIMEOUT_MS, 'the relay did not hand over the session'),
        ),
        (async () => {
          const place = await step('reach the workbench', () =>
            workbench.connected(tuning.CUBICLE_WORKBENCH_START_TIMEOUT_MS),
          );
          const skills = await step('install skills', () =>
            workbench.prepare(this.config.skills, adapter.skillDirectories(place.home)),
          );
          return { place, skills };
        })(),
        models ? step('assume the model invoker role', () => models.forRun()) : undefined,
      ]);
      if (secrets.connectionsWithoutCredential.length > 0) {
        this.log.warn('connections without a stored credential', { connections: secrets.connectionsWithoutCredential });
      }
      return { secrets, session, place, skills };
    } catch {
      return undefined;
    }
  }

  private runner(
    adapter: ProviderAdapter,
    secrets: LoadedSecrets,
    where: { place: Hello; workbench: WorkbenchLink; guardSocket: string },
    sessions: RelaySessionRow,
    inbox: RelayInbox,
    events: EventSink,
    approvals: ApprovalStore,
  ): MessageRunner {
    return new MessageRunner({
      config: this.config,
      adapter,
      secrets,
      ...where,
      sessions,
      inbox,
      events,
      approvals,
      redactor: this.redactor,
      log: this.log,
      now: this.now,
      abortSignal: this.abort.signal,
      inherited: this.deps.env,
      modelCredentials: this.modelCredentials,
    });
  }

  /** The inbox opener, loaded once on first use; a failed load is tried again by the next call. */
  private inboxOpener(pair: { userId: string; agentId: string }): () => Promise<InboxOpener> {
    const load = this.deps.loadInboxOpener ?? loadInboxOpener;
    let opening: Promise<InboxOpener> | undefined;
    return () =>
      (opening ??= load()
        .then((module) => module.inboxOpener(pair, this.config.env.CUBICLE_USER_KEY_ARN))
        .catch((error: unknown) => {
          opening = undefined;
          throw error;
        }));
  }

  /** Waits `ms`, or less if a nudge or a stop comes first. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        this.abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      this.wakeUp = done;
      if (this.abort.signal.aborted) return done();
      this.abort.signal.addEventListener('abort', done, { once: true });
    });
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
