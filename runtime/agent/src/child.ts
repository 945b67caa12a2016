import { spawn, type ChildProcess } from 'node:child_process';

export interface ChildOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly cwd: string;
  /** Written to stdin, then stdin is closed. */
  readonly stdin: string;
  readonly onStdoutLine: (line: string) => void;
  readonly onStderrLine: (line: string) => void;
}

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when the supervisor had to SIGKILL the group. */
  readonly killed: boolean;
  readonly spawnError?: string;
}

/** Lines longer than this are cut (a CLI printing a huge blob must not exhaust the supervisor). */
const MAX_LINE = 1024 * 1024;
/** How long tool processes may hold the CLI's pipes after the CLI itself exited. */
const LEFTOVER_GRACE_MS = 1_000;

/**
 * The agent CLI as a child in its own process group, so stopping it also stops every tool process it
 * started (shells, language servers, sub-agents).
 */
export class AgentChild {
  private readonly child: ChildProcess;
  private killed = false;
  readonly exited: Promise<ChildExit>;

  constructor(options: ChildOptions) {
    this.child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      detached: true, // new process group: the group id is the child's pid
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.exited = new Promise<ChildExit>((resolve) => {
      let settled = false;
      this.child.once('error', (error) => {
        if (settled) return;
        settled = true;
        resolve({
          code: null,
          signal: null,
          killed: false,
          spawnError: (error as NodeJS.ErrnoException).code ?? error.name,
        });
      });
      // Leftover background processes would hold the pipes open; they do not outlive the CLI's run.
      this.child.once('exit', () => setTimeout(() => this.signalGroup('SIGKILL'), LEFTOVER_GRACE_MS).unref());
      // 'close' waits for stdout/stderr to drain, so every line is parsed before the run ends.
      this.child.once('close', (code, signal) => {
        if (settled) return;
        settled = true;
        resolve({ code, signal, killed: this.killed });
      });
    });
    readLines(this.child.stdout!, options.onStdoutLine);
    readLines(this.child.stderr!, options.onStderrLine);
    this.child.stdin!.on('error', () => undefined); // the CLI may exit before reading its prompt
    this.child.stdin!.end(options.stdin);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * SIGTERM to the whole group, wait up to `graceMs` for the CLI to exit, then SIGKILL the group.
   * Resolves when the CLI has exited.
   */
  async stop(graceMs: number): Promise<ChildExit> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.signalGroup('SIGTERM');
      const timer = setTimeout(() => {
        this.killed = true;
        this.signalGroup('SIGKILL');
      }, graceMs);
      const exit = await this.exited;
      clearTimeout(timer);
      // Tool processes that ignored SIGTERM outlive the CLI: the group still gets its SIGKILL.
      this.signalGroup('SIGKILL');
      return exit;
    }
    this.signalGroup('SIGKILL');
    return this.exited;
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // the group is already gone
    }
  }
}

function readLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffer = '';
  let skipping = false;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      if (!skipping) onLine(line);
      skipping = false;
    }
    if (buffer.length > MAX_LINE) {
      if (!skipping) onLine(buffer.slice(0, MAX_LINE));
      buffer = '';
      skipping = true;
    }
  });
  stream.on('end', () => {
    if (buffer.length > 0 && !skipping) onLine(buffer);
  });
}
