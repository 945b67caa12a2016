/**
 * The workbench daemon: the main process of the workbench container (or of the local workbench
 * process). It holds no AWS identity and no secret of its own. It connects to the supervisor's socket in
 * the exchange directory, announces where the CLI's home is, installs the skills it is told to, and runs
 * the provider CLI when the supervisor asks, forwarding every stdout/stderr line over the socket (the
 * workbench's own stdout goes nowhere: runtime/agent/workbench-env.sh). When the supervisor goes away,
 * the CLI is stopped and the daemon exits.
 */
import { existsSync, lstatSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import * as path from 'node:path';
import { AgentChild } from './child';
import { installSkills } from './skills';
import { modelCredentialVariables } from './model-credentials';
import {
  CLI_STATE_DIR,
  DEFAULT_EXCHANGE_DIR,
  frameReader,
  isIdentityVariable,
  WORKBENCH_SOCKET,
  type FromWorkbench,
  type ToWorkbench,
} from './workbench-protocol';

export interface WorkbenchSettings {
  readonly exchangeDir: string;
  readonly runDir: string;
  /**
   * The CLI's home (sessions, memory files): on the pair's EFS access point, next to the workspace, so a
   * later wake continues the conversation. Credentials never go there (see `start` below).
   */
  readonly homeDir: string;
  readonly skillsSource: string;
  readonly path: string;
  /** How long to keep trying to reach the supervisor's socket. */
  readonly connectTimeoutMs: number;
}

export function settingsFrom(env: NodeJS.ProcessEnv): WorkbenchSettings {
  return {
    exchangeDir: env.CUBICLE_EXCHANGE_DIR || DEFAULT_EXCHANGE_DIR,
    runDir: env.CUBICLE_RUN_DIR || '/tmp/cubicle',
    homeDir: env.CUBICLE_HOME_DIR || DEFAULT_HOME_DIR,
    skillsSource: env.CUBICLE_SKILLS_SOURCE || '/opt/cubicle/skills',
    path: env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    connectTimeoutMs: Number(env.CUBICLE_WORKBENCH_CONNECT_TIMEOUT_MS) || 300_000,
  };
}

/**
 * On the access point (lib/constructs/agent-containers.ts WORKSPACE_PATH): ECS mounts an access point only
 * at its root, so the home is a hidden directory of the workspace volume. Every write through the access
 * point is made as its POSIX user, so the workbench's uid can write here like it writes the workspace.
 */
export const DEFAULT_HOME_DIR = `/workspace/${CLI_STATE_DIR}/home`;
/** Written in the home after a run that exited 0: the next wake may continue the latest conversation. */
export const RESUMABLE_MARKER = '.cubicle-resumable';

/** Runs the daemon until the supervisor's connection ends; resolves with the exit code. */
export async function runWorkbench(settings: WorkbenchSettings, env: NodeJS.ProcessEnv): Promise<number> {
  const leaked = Object.keys(env).filter(isIdentityVariable);
  if (leaked.length > 0) {
    // Fail closed: the entrypoint should have started this process from an empty environment.
    process.stderr.write(
      `workbench: refusing to start with identity variables in the environment: ${leaked.join(', ')}\n`,
    );
    return 78;
  }
  const home = settings.homeDir;
  const tmp = path.join(settings.runDir, 'tmp');
  const credentialsRoot = path.join(settings.runDir, 'credentials');
  for (const dir of [settings.runDir, home, tmp, credentialsRoot, path.join(home, '.codex')])
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  const resumable = existsSync(path.join(home, RESUMABLE_MARKER));
  const socket = await connectWithRetry(path.join(settings.exchangeDir, WORKBENCH_SOCKET), settings.connectTimeoutMs);
  if (!socket) {
    process.stderr.write('workbench: the supervisor socket never answered\n');
    return 1;
  }
  return new Promise<number>((resolve) => {
    const send = (frame: FromWorkbench) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(frame)}\n`);
    };
    const runs = new Map<string, AgentChild>();
    let ended = false;
    const end = async (code: number) => {
      if (ended) return;
      ended = true;
      // The supervisor is gone: nothing may keep running without it.
      await Promise.all([...runs.values()].map((child) => child.stop(1_000)));
      socket.destroy();
      resolve(code);
    };
    socket.setEncoding('utf8');
    socket.on(
      'data',
      frameReader(
        (frame) => void handle(frame as ToWorkbench),
        () => void end(1),
      ),
    );
    socket.on('close', () => void end(0));
    socket.on('error', () => void end(1));
    send({ t: 'hello', v: 1, pid: process.pid, runDir: settings.runDir, home, tmp, path: settings.path, resumable });

    const handle = async (frame: ToWorkbench) => {
      if (frame.t === 'prepare') {
        try {
          const inside = frame.directories.every((d) => isInside(home, d));
          if (!inside) throw new Error('skill directories must be under the workbench home');
          send({ t: 'prepared', skills: installSkills(frame.skills, settings.skillsSource, frame.directories) });
        } catch (error) {
          send({ t: 'prepare-failed', error: (error as Error).message });
        }
      } else if (frame.t === 'run') {
        start(frame);
      } else if (frame.t === 'stop') {
        void runs.get(frame.id)?.stop(frame.graceMs);
      }
    };

    const start = (run: Extract<ToWorkbench, { t: 'run' }>) => {
      const env = Object.fromEntries(Object.entries(run.env).filter(([name]) => !isIdentityVariable(name)));
      // The one AWS identity a CLI may hold: the model invoker's session, for Bedrock agents.
      if (run.model) Object.assign(env, modelCredentialVariables(run.model));
      // The file's content lives in an ephemeral per-run directory on the task's /tmp; the home (on EFS)
      // only holds a symbolic link to it while the CLI runs. Both go when the run ends, whatever happens.
      const runCredentials = path.join(credentialsRoot, run.id.replace(/[^A-Za-z0-9_-]/g, '_'));
      const links: string[] = [];
      const cleanUp = () => {
        for (const link of links) rmSync(link, { force: true });
        rmSync(runCredentials, { recursive: true, force: true });
      };
      try {
        for (const file of run.files) {
          if (!isInside(home, file.path)) throw new Error('files must be under the workbench home');
          const stored = path.join(runCredentials, path.relative(home, path.resolve(file.path)));
          mkdirSync(path.dirname(stored), { recursive: true, mode: 0o700 });
          writeFileSync(stored, file.content, { mode: 0o600 });
          mkdirSync(path.dirname(file.path), { recursive: true, mode: 0o700 });
          // A file a CLI left in the home under that name (a refreshed token from an older version) goes.
          if (existsSync(file.path) || isLink(file.path)) rmSync(file.path, { force: true });
          symlinkSync(stored, file.path);
          links.push(file.path);
        }
      } catch (error) {
        cleanUp();
        send({ t: 'exit', id: run.id, code: null, signal: null, killed: false, spawnError: (error as Error).message });
        return;
      }
      const child = new AgentChild({
        command: run.command,
        args: run.args,
        env,
        cwd: run.cwd,
        stdin: run.stdin,
        onStdoutLine: (line) => send({ t: 'stdout', id: run.id, line }),
        onStderrLine: (line) => send({ t: 'stderr', id: run.id, line }),
      });
      runs.set(run.id, child);
      send({ t: 'started', id: run.id, pid: child.pid });
      void child.exited.then((exit) => {
        runs.delete(run.id);
        cleanUp();
        if (exit.code === 0) writeFileSync(path.join(home, RESUMABLE_MARKER), '', { mode: 0o600 });
        send({
          t: 'exit',
          id: run.id,
          code: exit.code,
          signal: exit.signal,
          killed: exit.killed,
          ...(exit.spawnError ? { spawnError: exit.spawnError } : {}),
        });
      });
    };
  });
}

function isLink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, path.resolve(candidate));
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/**
 * The supervisor starts beside this daemon and opens its socket ~0.1 s in: until then the connection is refused. Tried
 * again every 10 ms for the first seconds (a 100 ms wait here once held every task's "ready" back by up to 0.1 s,
 * issue 15), then every 100 ms.
 */
const QUICK_RETRIES_MS = 5_000;

async function connectWithRetry(socketPath: string, timeoutMs: number): Promise<Socket | undefined> {
  const started = Date.now();
  const until = started + timeoutMs;
  while (Date.now() < until) {
    const socket = await new Promise<Socket | undefined>((resolve) => {
      const s = connect(socketPath);
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(undefined));
    });
    if (socket) return socket;
    await new Promise((r) => setTimeout(r, Date.now() - started < QUICK_RETRIES_MS ? 10 : 100));
  }
  return undefined;
}

if (require.main === module) {
  // ECS stops the container with SIGTERM: the supervisor stops the CLI; the daemon ends with its socket.
  process.on('SIGTERM', () => undefined);
  process.on('SIGINT', () => undefined);
  void runWorkbench(settingsFrom(process.env), process.env).then((code) => process.exit(code));
}
