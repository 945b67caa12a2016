/**
 * The tool guard's policy: which tool calls can reach the outside world, which hosts they name, and
 * what the agent's outbound policy makes of them. Pure functions; the supervisor adds approvals and
 * events, and `npm run guard:explain` prints the same verdicts.
 *
 * A call is local only when everything it can do is known to stay on this machine: file tools inside
 * the workspace, and shell lines whose every command is on the local list (guard-programs.ts) with no
 * option that runs another program. Anything that can run other programs or open sockets is outbound;
 * a call the guard cannot read (a shell syntax error, a computed destination, an address tools would
 * read differently) is refused under every policy. The network enforces the host allow-list too
 * (lib/constructs/egress-firewall.ts): the guard is the first line, not the only one.
 */
import type { ScheduledOutbound } from '../../shared/schedules';
import { addressHost, hostAllowed, hostsInText, type HostResult } from './guard-hosts';
import { DEFAULT_GUARD_PATHS, judgeShell, writeProblem, type GuardPaths } from './guard-shell';

export type OutboundPolicy = 'allow' | 'confirm' | 'deny';

export interface ToolCall {
  readonly tool: string;
  readonly input: unknown;
}

export interface Classification {
  readonly outbound: boolean;
  /** Hosts the call names (normalized: lower case, punycode, canonical IP literals, no port). */
  readonly hosts: string[];
  /** Why the call is outbound, or what keeps it local. */
  readonly why: string;
  /** Set when the call cannot be judged: it is refused under every policy. */
  readonly refuse?: string;
  /** One line for the employee (approval prompt) and the event; the caller redacts it. */
  readonly summary: string;
}

export type Verdict =
  | { readonly action: 'allow'; readonly reason: string }
  | { readonly action: 'confirm'; readonly reason: string }
  | { readonly action: 'deny'; readonly reason: string };

/** Tools of Claude Code, Codex and Gemini CLI that only read the workspace or the CLI's own state. */
const READ_TOOLS = new Set([
  // Claude Code
  'Read',
  'NotebookRead',
  'Glob',
  'Grep',
  'LS',
  'TodoWrite',
  'TodoRead',
  'Task',
  'Agent',
  'ExitPlanMode',
  'EnterPlanMode',
  'BashOutput',
  'KillShell',
  'KillBash',
  'Skill',
  'SlashCommand',
  'ToolSearch',
  'TaskOutput',
  'TaskStop',
  // Codex
  'update_plan',
  'view_image',
  // Gemini CLI
  'read_file',
  'glob',
  'search_file_content',
  'grep_search',
  'list_directory',
  'read_many_files',
  'save_memory',
  'write_todos',
  'activate_skill',
]);
/** Tools that write the file named in their input. */
const WRITE_TOOLS = new Set(['Write', 'Edit', 'MultiEdit', 'NotebookEdit', 'write_file', 'replace', 'edit']);
/** Tools that fetch a URL named in their input. */
const FETCH_TOOLS = new Set(['WebFetch', 'web_fetch']);
/** Tools that search the web (no host of ours is named). */
const SEARCH_TOOLS = new Set(['WebSearch', 'google_web_search', 'web_search']);
/** Shell tools. */
const SHELL_TOOLS = new Set(['Bash', 'run_shell_command', 'shell', 'exec_command', 'local_shell']);

export function classify(call: ToolCall, paths: GuardPaths = DEFAULT_GUARD_PATHS): Classification {
  const input = (call.input && typeof call.input === 'object' ? call.input : {}) as Record<string, unknown>;
  const str = (key: string) => (typeof input[key] === 'string' ? (input[key] as string) : '');
  const summary = summarize(call);
  const local = (why: string): Classification => ({ outbound: false, hosts: [], why, summary });
  const outbound = (why: string, results: HostResult[], refuse?: string): Classification => {
    const hosts = results.flatMap((r) => ('host' in r ? [r.host] : []));
    const error = results.find((r): r is { error: string } => 'error' in r);
    const refusal = refuse ?? (error ? `cannot tell where it connects: ${error.error}` : undefined);
    return { outbound: true, hosts: [...new Set(hosts)], why, summary, ...(refusal ? { refuse: refusal } : {}) };
  };

  if (READ_TOOLS.has(call.tool)) return local('local tool');
  if (WRITE_TOOLS.has(call.tool) || call.tool === 'apply_patch') {
    const targets =
      call.tool === 'apply_patch'
        ? patchTargets(patchText(input))
        : [str('file_path') || str('notebook_path') || str('path') || str('absolute_path')];
    if (targets.length === 0 || targets.some((t) => t === ''))
      return outbound(`${call.tool}`, [], 'it names no file the guard can check');
    const problems = targets
      .map((t) => writeProblem({ text: t, computed: false, pattern: false }, paths))
      .filter(Boolean) as string[];
    return problems.length === 0 ? local('local tool') : outbound(`${call.tool} ${problems[0]}`, []);
  }
  if (FETCH_TOOLS.has(call.tool)) {
    const url = str('url');
    if (url)
      return outbound(`${call.tool} fetches a URL`, [addressHost(url) ?? { error: 'file: URLs are not fetched' }]);
    return outbound(
      `${call.tool} fetches the URLs in its prompt`,
      hostsInText(str('prompt')).map((host) => ({ host })),
    );
  }
  if (SEARCH_TOOLS.has(call.tool)) return outbound(`${call.tool} searches the web`, []);
  if (SHELL_TOOLS.has(call.tool)) {
    const command = shellLine(input.command);
    if (command === undefined)
      return outbound(`${call.tool}`, [], 'the shell command is not a string or a list of strings');
    const workdir = [input.workdir, input.cwd, input.directory, input.dir_path].find((v) => typeof v === 'string') as
      string | undefined;
    const judged = judgeShell(command, paths);
    const reasons = [...judged.outbound];
    const moved = workdir ? writeProblem({ text: workdir, computed: false, pattern: false }, paths, true) : undefined;
    if (moved) reasons.unshift(`its working directory ${workdir} is outside the workspace`);
    if (reasons.length === 0 && !judged.refuse && judged.hosts.length === 0)
      return local('local: every command in it stays on this machine');
    const why =
      reasons.length === 0
        ? 'it names hosts'
        : reasons.length === 1
          ? reasons[0]
          : `${reasons[0]}; and ${reasons.length - 1} more`;
    return outbound(
      why,
      judged.hosts.map((host) => ({ host })),
      judged.refuse,
    );
  }
  // MCP tools and anything unknown: assume they reach out.
  return outbound(
    `${call.tool} is not a tool the guard knows to stay local`,
    hostsInText(JSON.stringify(call.input ?? {})).map((host) => ({ host })),
  );
}

export function decide(policy: OutboundPolicy, c: Classification, connectionHosts: readonly string[]): Verdict {
  if (c.refuse) return { action: 'deny', reason: `refused: ${c.refuse}` };
  const unknown = c.hosts.filter((h) => !hostAllowed(h, connectionHosts));
  if (unknown.length > 0)
    return { action: 'deny', reason: `host ${unknown.join(', ')} is not in this agent's connections` };
  if (!c.outbound) return { action: 'allow', reason: c.why };
  if (policy === 'allow')
    return { action: 'allow', reason: `outbound (${c.why}); this agent's outbound policy allows it` };
  if (policy === 'deny')
    return {
      action: 'deny',
      reason: `outbound (${c.why}); this agent's outbound policy denies calls to the outside world`,
    };
  return { action: 'confirm', reason: `outbound (${c.why}); needs the employee’s approval` };
}

/**
 * A scheduled message's policy (runtime/shared/schedules.ts): nobody is there to approve, so nothing ever
 * waits. `deny` refuses every outbound call; a host list allows an outbound call only when it names hosts
 * and every one of them is pre-approved (and among the connections' hosts); anything else is refused.
 */
export function decideUnattended(
  outbound: ScheduledOutbound,
  c: Classification,
  connectionHosts: readonly string[],
): Verdict {
  const strict = decide('deny', c, connectionHosts);
  if (strict.action !== 'deny' || c.refuse || !c.outbound) return strict;
  if (outbound === 'deny')
    return {
      action: 'deny',
      reason: `outbound (${c.why}); a scheduled run may not reach the outside world (its schedule's outbound is deny)`,
    };
  const preApproved = [...outbound];
  if (c.hosts.length > 0 && c.hosts.every((h) => hostAllowed(h, preApproved) && hostAllowed(h, connectionHosts))) {
    return {
      action: 'allow',
      reason: `outbound (${c.why}); ${c.hosts.join(', ')} pre-approved for this scheduled run`,
    };
  }
  const unnamed = c.hosts.length === 0;
  return {
    action: 'deny',
    reason: unnamed
      ? `outbound (${c.why}); a scheduled run allows only calls that name its pre-approved hosts, and nobody is there to approve`
      : `host ${c.hosts.filter((h) => !hostAllowed(h, preApproved)).join(', ')} is not pre-approved for this scheduled run`,
  };
}

/** One line describing the call: the file for file tools, the URL, the query, or the command. */
export function summarize(call: ToolCall): string {
  const input = (call.input && typeof call.input === 'object' ? call.input : {}) as Record<string, unknown>;
  const str = (key: string) => (typeof input[key] === 'string' ? (input[key] as string) : '');
  if (READ_TOOLS.has(call.tool) || WRITE_TOOLS.has(call.tool)) {
    const target = str('file_path') || str('notebook_path') || str('path') || str('absolute_path') || str('pattern');
    return `${call.tool}${target ? ` ${target}` : ''}`;
  }
  if (call.tool === 'apply_patch') return `apply_patch ${patchTargets(patchText(input)).join(', ')}`;
  if (FETCH_TOOLS.has(call.tool)) return `${call.tool} ${str('url') || str('prompt')}`;
  if (SEARCH_TOOLS.has(call.tool)) return `${call.tool} ${str('query')}`;
  if (SHELL_TOOLS.has(call.tool)) return `${call.tool}: ${shellLine(input.command) ?? ''}`;
  return `${call.tool} ${JSON.stringify(call.input ?? {})}`;
}

/** A shell tool's command: a string, or an argv list (Codex), turned into the line bash would run. */
function shellLine(command: unknown): string | undefined {
  if (typeof command === 'string') return command;
  if (!Array.isArray(command) || command.length === 0 || !command.every((c) => typeof c === 'string')) return undefined;
  const argv = command as string[];
  if (argv.length === 3 && /^(\/usr)?(\/bin\/)?(ba|z)?sh$/.test(argv[0]) && /^-l?c$/.test(argv[1])) return argv[2];
  return argv.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
}

/** The patch text of an apply_patch input, wherever the CLI puts it (a string, or inside an argv list). */
function patchText(input: Record<string, unknown>): string {
  return ['command', 'input', 'patch']
    .flatMap((key) =>
      typeof input[key] === 'string'
        ? [input[key]]
        : Array.isArray(input[key])
          ? (input[key] as unknown[]).filter((v) => typeof v === 'string')
          : [],
    )
    .join('\n');
}

/** Files an apply_patch input adds, updates, deletes or moves to. */
function patchTargets(patch: string): string[] {
  return [...patch.matchAll(/^\*\*\* (?:Add File|Update File|Delete File|Move to): (.+)$/gm)].map((m) => m[1].trim());
}
