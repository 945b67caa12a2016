/**
 * The supervisor's end of the workbench socket (runtime/agent/src/workbench-protocol.ts): it listens in
 * the exchange directory, accepts exactly one peer (the workbench daemon, which connects before any CLI
 * exists) and refuses and reports every later connection, so a tool process cannot pose as the daemon.
 */
import { rmSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import * as path from 'node:path';
import { listenExchangeSocket } from './exchange-socket';
import type { ChildExit } from './child';
import type { Logger } from './log';
import {
  frameReader,
  WORKBENCH_SOCKET,
  type FromWorkbench,
  type Hello,
  type ModelSession,
  type ToWorkbench,
} from './workbench-protocol';

/** A CLI run in the workbench, as the message runner sees it. */
export interface CliRun {
  readonly exited: Promise<ChildExit>;
  stop(graceMs: number): Promise<ChildExit>;
}

export interface RunRequest {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly stdin: string;
  readonly files: ReadonlyArray<{ readonly path: string; readonly content: string }>;
  /** Bedrock agents: the model invoker's session for this run. */
  readonly model?: ModelSession;
  readonly onStdoutLine: (line: string) => void;
  readonly onStderrLine: (line: string) => void;
}

interface PendingRun {
  readonly request: RunRequest;
  readonly resolve: (exit: ChildExit) => void;
}

export class WorkbenchLink {
  private server: Server | undefined;
  private peer: Socket | undefined;
  private hello: Hello | undefined;
  private readonly runs = new Map<string, PendingRun>();
  private prepared: ((frame: FromWorkbench) => void) | undefined;
  private counter = 0;
  private readonly ready: Promise<Hello>;
  private onReady!: (hello: Hello) => void;
  /** Resolves when the workbench's connection ends (it exited, was killed, or broke the protocol). */
  readonly lost: Promise<string>;
  private onLost!: (why: string) => void;

  constructor(
    readonly exchangeDir: string,
    private readonly log: Logger,
  ) {
    this.ready = new Promise((resolve) => (this.onReady = resolve));
    this.lost = new Promise((resolve) => (this.onLost = resolve));
  }

  get socketPath(): string {
    return path.join(this.exchangeDir, WORKBENCH_SOCKET);
  }

  async listen(): Promise<void> {
    this.server = await listenExchangeSocket(this.socketPath, (socket) => this.accept(socket));
  }

  /** The workbench's hello, or a rejection after `timeoutMs`. */
  connected(timeoutMs: number): Promise<Hello> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>(
      (_, reject) => (timer = setTimeout(() => reject(new Error('the workbench did not connect')), timeoutMs)),
    );
    return Promise.race([this.ready, timeout]).finally(() => clearTimeout(timer));
  }

  /** Installs the named skills in the workbench; resolves with the installed list. */
  prepare(skills: readonly string[], directories: readonly string[]): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.prepared = (frame) => {
        this.prepared = undefined;
        if (frame.t === 'prepared') resolve([...frame.skills]);
        else reject(new Error(frame.t === 'prepare-failed' ? frame.error : 'the workbench went away'));
      };
      this.send({ t: 'prepare', skills, directories });
    });
  }

  run(request: RunRequest): CliRun {
    const id = `run-${++this.counter}`;
    const exited = new Promise<ChildExit>((resolve) => {
      if (!this.peer || this.peer.destroyed)
        return resolve({ code: null, signal: null, killed: false, spawnError: 'workbench unavailable' });
      this.runs.set(id, { request, resolve });
    });
    const { onStdoutLine, onStderrLine, ...wire } = request;
    void onStdoutLine;
    void onStderrLine;
    this.send({ t: 'run', id, ...wire });
    return {
      exited,
      stop: (graceMs) => {
        this.send({ t: 'stop', id, graceMs });
        return exited;
      },
    };
  }

  async close(): Promise<void> {
    this.peer?.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }

  private send(frame: ToWorkbench): void {
    if (this.peer && !this.peer.destroyed) this.peer.write(`${JSON.stringify(frame)}\n`);
  }

  private accept(socket: Socket): void {
    if (this.peer) {
      // Only the daemon, connected before any CLI ran, is a workbench; anything later is a tool process.
      this.log.warn('workbench socket: extra connection refused', { connected_peers: 1 });
      socket.destroy();
      return;
    }
    this.peer = socket;
    socket.setEncoding('utf8');
    const drop = (why: string) => {
      if (!socket.destroyed) socket.destroy();
      this.fail(why);
    };
    socket.on(
      'data',
      frameReader((frame) => this.receive(frame as unknown as FromWorkbench, drop), drop),
    );
    socket.on('close', () => this.fail('the workbench closed its connection'));
    socket.on('error', () => undefined);
  }

  private receive(frame: FromWorkbench, drop: (why: string) => void): void {
    if (!this.hello) {
      if (frame.t !== 'hello' || frame.v !== 1 || typeof frame.home !== 'string' || typeof frame.runDir !== 'string')
        return drop('the workbench did not say hello');
      this.hello = frame;
      this.onReady(frame);
      return;
    }
    switch (frame.t) {
      case 'prepared':
      case 'prepare-failed':
        this.prepared?.(frame);
        return;
      case 'stdout':
        this.runs.get(frame.id)?.request.onStdoutLine(String(frame.line));
        return;
      case 'stderr':
        this.runs.get(frame.id)?.request.onStderrLine(String(frame.line));
        return;
      case 'exit': {
        const run = this.runs.get(frame.id);
        this.runs.delete(frame.id);
        run?.resolve({
          code: typeof frame.code === 'number' ? frame.code : null,
          signal: (frame.signal as NodeJS.Signals | null) ?? null,
          killed: frame.killed === true,
          ...(frame.spawnError ? { spawnError: String(frame.spawnError) } : {}),
        });
        return;
      }
      case 'log':
        this.log[frame.level === 'error' ? 'error' : frame.level === 'warn' ? 'warn' : 'info'](
          `workbench: ${String(frame.msg)}`,
        );
        return;
      case 'started':
        return;
      default:
        return drop('unknown frame from the workbench');
    }
  }

  private fail(why: string): void {
    if (!this.peer) return;
    this.prepared?.({ t: 'prepare-failed', error: why });
    for (const run of this.runs.values())
      run.resolve({ code: null, signal: null, killed: true, spawnError: 'workbench lost' });
    this.runs.clear();
    this.onLost(why);
  }
}
