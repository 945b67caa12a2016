/**
 * One host process per control-plane function (local/functions/host.ts), each with its own environment
 * and access keys, as each Lambda function has its own configuration and role. A host that dies is
 * started again on the next invocation (a new Lambda instance).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROSTER_FILE_NAME, type RosterDirectory } from '../../runtime/control-plane/roster';
import { FUNCTION_NAMES, type FunctionName } from '../aws/principals';
import type { LogSink } from '../logs';
import type { Bundles } from './bundle';
import { LOCAL_FUNCTIONS } from './registry';

export class FunctionError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

interface Host {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly pending: Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>;
}

export interface HostOptions {
  readonly bundles: Bundles;
  /** Where each function's bundle is placed with its roster.json (`<dir>/<name>/index.js`). */
  readonly dir: string;
  readonly roster: RosterDirectory;
  readonly env: (name: FunctionName) => Record<string, string>;
  readonly logs: LogSink;
}

export class FunctionHosts {
  private readonly hosts = new Map<FunctionName, Host>();
  private next = 1;
  private stopping = false;

  constructor(private readonly options: HostOptions) {
    for (const name of FUNCTION_NAMES) {
      const dir = path.join(options.dir, name);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      copyFileSync(options.bundles.functions[name], path.join(dir, 'index.js'));
      // As the stack's bundling step does (lib/constructs/cubicle-function.ts commandHooks).
      writeFileSync(path.join(dir, ROSTER_FILE_NAME), JSON.stringify(options.roster), { mode: 0o600 });
    }
  }

  /** Starts every host and waits until each has loaded its function (its cold start). */
  async start(): Promise<void> {
    await Promise.all(FUNCTION_NAMES.map((name) => this.host(name).ready));
  }

  async invoke(name: FunctionName, event: unknown): Promise<unknown> {
    if (this.stopping) throw new FunctionError('ServiceUnavailable', 'local mode is stopping');
    const host = this.host(name);
    await host.ready;
    const id = this.next++;
    return new Promise((resolve, reject) => {
      host.pending.set(id, { resolve, reject });
      host.child.send({ id, event }, (error) => {
        if (error) {
          host.pending.delete(id);
          reject(error);
        }
      });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.hosts.values()].map(
        (host) =>
          new Promise<void>((resolve) => {
            if (host.child.exitCode !== null || host.child.signalCode !== null) return resolve();
            const timer = setTimeout(() => host.child.kill('SIGKILL'), 2_000);
            host.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            // The host exits when its IPC channel closes.
            if (host.child.connected) host.child.disconnect();
            else host.child.kill('SIGKILL');
          }),
      ),
    );
  }

  private host(name: FunctionName): Host {
    const existing = this.hosts.get(name);
    if (existing && existing.child.exitCode === null && existing.child.signalCode === null) return existing;
    const child = spawn(
      process.execPath,
      [
        this.options.bundles.host,
        path.join(this.options.dir, name, 'index.js'),
        String(LOCAL_FUNCTIONS[name].timeoutMs),
        name,
      ],
      {
        env: this.options.env(name),
        cwd: path.join(this.options.dir, name),
        // Its own process group: a Ctrl-C in the terminal reaches local mode, which stops the hosts last.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      },
    );
    this.options.logs.follow(child.stdout!, path.join('functions', `${name}.log`), name);
    this.options.logs.follow(child.stderr!, path.join('functions', `${name}.log`), name);
    const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (message: { ready?: boolean; error?: unknown; id?: number; result?: unknown }) => {
        if (message.ready === true) return resolve();
        if (message.ready === false)
          return reject(new Error(`function ${name} failed to start: ${String(message.error)}`));
        const call = message.id === undefined ? undefined : pending.get(message.id);
        if (!call) return;
        pending.delete(message.id!);
        if (message.error) {
          const e = message.error as { name: string; message: string };
          call.reject(new FunctionError(e.name, e.message));
        } else call.resolve(message.result);
      });
      child.once('exit', (code, signal) => {
        reject(new Error(`function ${name} exited during its cold start (${signal ?? code})`));
        for (const call of pending.values())
          call.reject(new FunctionError('ServiceException', `function ${name} exited (${signal ?? code})`));
        pending.clear();
      });
      child.once('error', reject);
    });
    ready.catch(() => undefined);
    const host = { child, ready, pending };
    this.hosts.set(name, host);
    return host;
  }
}
