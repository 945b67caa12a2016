/**
 * Judges one shell command line: which of its commands can reach the outside world (open a socket,
 * or run a program the guard cannot judge), which hosts it names, and whether it can be judged at all.
 * Anything the parser cannot read, or whose destination is computed, is refused (fail closed).
 */
import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import { COMPUTED, authorityHost, hostsInText, addressHost, type HostResult } from './guard-hosts';
import { EXEC_REASONS, LOCAL, NETWORK } from './guard-programs';
import { CLI_STATE_DIR } from './workbench-protocol';
import { parseShell, ShellSyntaxError, type ShellCall, type ShellWord } from './shell-syntax';

/** Where the agent's files live: paths outside them are where start-up files and configuration hide. */
export interface GuardPaths {
  /** The persistent workspace (the CLI's working directory). */
  readonly workspace: string;
  /** The task's run directory under /tmp: the CLI's home and the guard socket. */
  readonly runDir: string;
  /**
   * Where an absolute path really leads (symbolic links resolved), when the guard can look: a link planted
   * in the workspace must not turn a workspace write into a write to the CLI's home. Absent: paths as written.
   */
  readonly resolve?: (absolutePath: string) => string;
}

export const DEFAULT_GUARD_PATHS: GuardPaths = { workspace: '/workspace', runDir: '/tmp/cubicle' };

export interface Judgement {
  /** Why the call may reach the outside world; empty when it stays local. */
  readonly outbound: string[];
  readonly hosts: string[];
  /** Why the call cannot be judged: refused under every policy. */
  readonly refuse?: string;
}

/** Variables a command may be given on its own line without changing what it runs. */
const SAFE_ENV =
  /^(LANG|LANGUAGE|LC_[A-Z]+|TZ|TERM|NO_COLOR|FORCE_COLOR|CLICOLOR|COLUMNS|LINES|CI|NODE_ENV|PYTHONUNBUFFERED|PAGER|GIT_PAGER)$/;
const PROXY_ENV = /^(https?|ftp|all|socks)_proxy$/i;
/** Variables that, once assigned in the shell, change what later commands in the line run. */
const STEERING_VARIABLES =
  /^(PATH|HOME|TMPDIR|BASH_ENV|ENV|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|IFS|CDPATH|GLOBIGNORE|LD_[A-Z_]+|GIT_[A-Z_]+|NODE_OPTIONS|PYTHON[A-Z_]*|PERL5[A-Z_]*|RUBY[A-Z_]*)$|proxy/i;
/** A program path in the image's read-only system directories. */
const SYSTEM_PROGRAM = /^\/(?:usr\/)?(?:local\/)?s?bin\/([^/]+)$/;

export function judgeShell(command: string, paths: GuardPaths = DEFAULT_GUARD_PATHS): Judgement {
  let facts;
  try {
    facts = parseShell(command);
  } catch (error) {
    if (error instanceof ShellSyntaxError)
      return { outbound: [], hosts: [], refuse: `cannot read the shell command: ${error.message}` };
    return { outbound: [], hosts: [], refuse: 'cannot read the shell command (the shell parser failed)' };
  }
  const outbound = new Set<string>(facts.opaque);
  const results: HostResult[] = [];
  let refuse: string | undefined;
  const note = (r: string | undefined) => r && outbound.add(r);

  for (const call of facts.calls) {
    const verdict = judgeCall(call, paths);
    verdict.outbound.forEach(note);
    results.push(...verdict.hosts);
    refuse ??= verdict.refuse;
  }
  for (const { op, target } of facts.redirects) {
    if (op === '<<' || op === '<<-' || op === '<<<') continue;
    if ((op === '>&' || op === '<&') && !target.computed && /^(\d+-?|-)$/.test(target.text)) continue;
    const socket = /^\/dev\/(tcp|udp)\/([^/]*)\//.exec(target.text);
    if (socket) {
      outbound.add(`a redirection to /dev/${socket[1]} opens a network connection`);
      results.push(authorityHost(socket[2]));
      continue;
    }
    if (target.computed) {
      note('a redirection to a computed path (it could be /dev/tcp/…)');
      continue;
    }
    if (op !== '<') note(writeProblem(target, paths));
  }
  const hosts = new Set<string>();
  for (const result of results) {
    if ('host' in result) hosts.add(result.host);
    else refuse ??= `cannot tell where it connects: ${result.error}`;
  }
  return { outbound: [...outbound], hosts: [...hosts], ...(refuse ? { refuse } : {}) };
}

interface CallVerdict {
  outbound: string[];
  hosts: HostResult[];
  refuse?: string;
}

function judgeCall(call: ShellCall, paths: GuardPaths): CallVerdict {
  const verdict: CallVerdict = { outbound: [], hosts: [] };
  if (call.words.length === 0) {
    for (const { name } of call.assigns) {
      if (STEERING_VARIABLES.test(name))
        verdict.outbound.push(`assigning ${name} changes what later commands run or where they connect`);
    }
    return verdict;
  }
  let steeringEnv: string | undefined;
  for (const { name, value } of call.assigns) {
    if (PROXY_ENV.test(name)) {
      if (value && value.text !== '')
        verdict.hosts.push(addressHost(value.text, { schemeless: true }) ?? { error: `${name} names no host` });
    } else if (!SAFE_ENV.test(name)) steeringEnv ??= name;
  }

  const [first, ...args] = call.words;
  const program = programName(first);
  if ('reason' in program) {
    verdict.outbound.push(program.reason);
    verdict.hosts.push(...textHosts(call.words));
    return verdict;
  }
  const { name } = program;
  const network = NETWORK[name];
  if (network) {
    verdict.outbound.push(`${name} opens network connections`);
    if (steeringEnv) verdict.refuse = `${name} runs with ${steeringEnv} set, which can change where it connects`;
    const destinations = network(args);
    verdict.hosts.push(...destinations.hosts);
    if (destinations.unreadable) verdict.refuse ??= destinations.unreadable;
    return verdict;
  }
  const local = LOCAL[name];
  if (!local) {
    verdict.outbound.push(
      EXEC_REASONS[name] ??
        `${name} is not a program the guard knows to stay local (it may run other programs or open connections)`,
    );
    verdict.hosts.push(...textHosts(call.words));
    return verdict;
  }
  if (steeringEnv) verdict.outbound.push(`${name} runs with ${steeringEnv} set, which can change what it runs`);
  if (name === 'cd') {
    const target = args.find((a) => !/^-[LPe@]+$/.test(a.text));
    const problem = target ? writeProblem(target, paths, true) : 'cd with no directory goes to the home directory';
    if (problem)
      verdict.outbound.push(
        `${problem.replace(/^writes/, 'cd')}: later relative paths would point outside the workspace`,
      );
    return verdict;
  }
  const check = local(args);
  if (check.exec) verdict.outbound.push(check.exec);
  for (const target of check.writes ?? []) {
    const problem = writeProblem(target, paths);
    if (problem) verdict.outbound.push(`${name} ${problem}`);
  }
  return verdict;
}

function programName(word: ShellWord): { name: string } | { reason: string } {
  if (word.computed) return { reason: 'the program name is computed when the command runs' };
  if (word.pattern) return { reason: 'the program name is a pattern bash expands' };
  if (!word.text.includes('/')) return { name: word.text };
  const system = SYSTEM_PROGRAM.exec(path.posix.normalize(word.text));
  if (system) return { name: system[1] };
  return { reason: `${word.text} is a program or script the guard cannot judge` };
}

function textHosts(words: ShellWord[]): HostResult[] {
  return hostsInText(words.map((w) => w.text.replaceAll(COMPUTED, ' ')).join(' ')).map((host) => ({ host }));
}

/**
 * Why writing to this path could change what later commands run (a start-up file in the CLI's home,
 * a file outside the workspace); undefined for the workspace, /tmp outside the run directory, and
 * /dev/null-like targets. With `workspaceOnly` (cd), /tmp is outside too.
 */
export function writeProblem(word: ShellWord, paths: GuardPaths, workspaceOnly = false): string | undefined {
  const problem = pathProblem(word, paths, workspaceOnly);
  if (problem || !paths.resolve || word.computed || word.pattern || word.text.startsWith('~')) return problem;
  const absolute = path.posix.resolve(paths.workspace, word.text);
  const real = paths.resolve(absolute);
  if (real === absolute) return undefined;
  const behind = pathProblem({ text: real, computed: false, pattern: false }, paths, workspaceOnly);
  return behind ? `${behind} (${word.text} is a symbolic link there)` : undefined;
}

function pathProblem(word: ShellWord, paths: GuardPaths, workspaceOnly: boolean): string | undefined {
  if (word.computed) return 'writes to a computed path';
  const p = word.text;
  if (!workspaceOnly && (['/dev/null', '/dev/stdout', '/dev/stderr', '-'].includes(p) || /^\/dev\/fd\/\d+$/.test(p)))
    return undefined;
  if (p.startsWith('~')) return `writes to ${p} in the home directory, where start-up files run with later commands`;
  if (p.split('/').includes('..')) return `writes to ${p}, which can leave the workspace`;
  if (word.pattern && (p.startsWith('/') || /(^|\/)\.[^/]*[*?[{]/.test(p)))
    return `writes to ${p}, a pattern that can match files outside the workspace`;
  // The CLI's kept home is inside the workspace volume (runtime/agent/src/workbench.ts DEFAULT_HOME_DIR) but
  // is a home all the same: start-up files there run with later commands, so it is not the workspace.
  const state = path.posix.join(paths.workspace, CLI_STATE_DIR);
  const full = path.posix.resolve(paths.workspace, p);
  if (full === state || full.startsWith(`${state}/`))
    return `writes to ${p} in the CLI's home, where start-up files run with later commands`;
  if (!p.startsWith('/')) return undefined;
  const inside = (root: string) => p === root || p.startsWith(`${root.replace(/\/$/, '')}/`);
  if (inside(paths.workspace)) return undefined;
  if (!workspaceOnly && inside('/tmp') && !inside(paths.runDir)) return undefined;
  return `writes to ${p}, outside the workspace`;
}

/** A path with its symbolic links resolved, as far as it exists (the rest appended as written). */
export function realPath(absolute: string): string {
  const rest: string[] = [];
  let head = absolute;
  for (;;) {
    try {
      return path.join(realpathSync(head), ...rest.reverse());
    } catch {
      if (head === path.dirname(head)) return absolute;
      rest.push(path.basename(head));
      head = path.dirname(head);
    }
  }
}
