/** Helpers for the local-mode tests: a real `npm start` process, API calls, waiting, process snapshots. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { groupsUnder, processStart } from '../../local/ecs/processes';

export const REPO = path.join(__dirname, '..', '..');

export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

export interface LocalProcess {
  readonly child: ChildProcess;
  readonly url: string;
  stdout(): string;
  stderr(): string;
  /**
   * Ctrl-C as a terminal sends it: SIGINT to the whole process group. Resolves with the exit code of
   * the spawned process once it and every process under it at that moment have exited.
   */
  interrupt(timeoutMs?: number): Promise<number | null>;
}

/** How local mode is started: `npm start` (the script), or the entry it runs (`node --import tsx local/main.ts`). */
export type Launch = 'npm' | 'node';

/** Local mode in its own process group, ready once it printed its line. */
export async function startLocalProcess(
  args: readonly string[],
  launch: Launch = 'npm',
  timeoutMs = 90_000,
): Promise<LocalProcess> {
  const [command, prefix] =
    launch === 'npm' ? ['npm', ['start', '--silent', '--']] : [process.execPath, ['--import', 'tsx', 'local/main.ts']];
  const child = spawn(command, [...prefix, ...args], {
    cwd: REPO,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await Promise.race([
    waitFor(
      () => /^Cubicle local: (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out)?.[1],
      timeoutMs,
      `the ready line (stderr: ${err.slice(-2000)})`,
    ),
    exited.then((code) => {
      throw new Error(`local mode exited with ${code} before it was ready: ${err.slice(-2000)}`);
    }),
  ]);
  return {
    child,
    url,
    stdout: () => out,
    stderr: () => err,
    interrupt: async (limit = 60_000) => {
      const all = processesUnder(child.pid!);
      process.kill(-child.pid!, 'SIGINT');
      const code = await exited;
      // npm itself exits on the signal; local mode goes on stopping what it started.
      await waitFor(
        () => stillAlive(all).length === 0,
        limit,
        `every local-mode process to exit: ${JSON.stringify(stillAlive(all))}`,
      );
      return code;
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly body: any;
  readonly headers: Headers;
}

export async function call(
  base: string,
  method: string,
  route: string,
  token?: string,
  body?: unknown,
): Promise<Reply> {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export async function tokenFor(base: string, user: string): Promise<string> {
  const reply = await call(base, 'POST', '/local/token', undefined, { user });
  if (reply.status !== 200) throw new Error(`token for ${user}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.token as string;
}

export interface ApiEvent {
  readonly seq: number;
  readonly type: string;
  readonly messageId?: string;
  readonly data: Record<string, any>;
}

export async function events(base: string, token: string, agentId: string): Promise<ApiEvent[]> {
  const all: ApiEvent[] = [];
  let after = '0';
  for (;;) {
    const reply = await call(base, 'GET', `/v1/agents/${agentId}/events?after=${after}&limit=200`, token);
    if (reply.status !== 200) throw new Error(`events: ${reply.status} ${JSON.stringify(reply.body)}`);
    all.push(...reply.body.events);
    if (!reply.body.more) return all;
    after = reply.body.cursor;
  }
}

export function waitForEvent(
  base: string,
  token: string,
  agentId: string,
  match: (e: ApiEvent) => boolean,
  timeoutMs = 60_000,
): Promise<ApiEvent> {
  return waitFor(async () => (await events(base, token, agentId)).find(match), timeoutMs, `an event of ${agentId}`);
}

/** Every process under `root` now (pid and start time). */
export function processesUnder(root: number): { pid: number; start: number; cmd: string }[] {
  return groupsUnder(root).flatMap((g) =>
    g.members.map((m) => ({
      ...m,
      cmd: (() => {
        try {
          return readFileSync(`/proc/${m.pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
        } catch {
          return '';
        }
      })(),
    })),
  );
}

export function stillAlive(processes: readonly { pid: number; start: number }[]): { pid: number; start: number }[] {
  return processes.filter((p) => processStart(p.pid) === p.start);
}

/** Every file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : entry.isFile() ? [full] : [];
  });
}

/** A device on the relay, as the console and the CLI connect: subprotocols `cubicle.v1` and `bearer.<JWT>`. */
export interface Device {
  readonly frames: Record<string, unknown>[];
  send(frame: Record<string, unknown>): void;
  close(): void;
}

export async function relayDevice(base: string, token: string, path = '/v1/relay'): Promise<Device> {
  const { WebSocket } = await import('ws');
  const socket = new WebSocket(`${base.replace(/^http/, 'ws')}${path}`, ['cubicle.v1', `bearer.${token}`]);
  const frames: Record<string, unknown>[] = [];
  socket.on('message', (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_req, res) => reject(new Error(`relay answered ${res.statusCode}`)));
    socket.once('error', reject);
  });
  if (socket.protocol !== 'cubicle.v1') throw new Error(`relay selected ${socket.protocol}`);
  return { frames, send: (frame) => socket.send(JSON.stringify(frame)), close: () => socket.close() };
}
