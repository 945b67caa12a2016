/**
 * The tool guard's policy: which tool calls reach the outside world, which hosts they name, and what
 * the agent's outbound policy makes of them. Pure functions; the supervisor adds approvals and events.
 *
 * What this is and is not: it sees every tool call the CLI makes through its hook, and judges it by
 * tool name and arguments. It is not a network sandbox: a shell command that reaches the network in a
 * way the classifier cannot see (a script, an interpreter one-liner) is still judged "outbound" because
 * only a short list of plainly local commands counts as local; anything else goes to the policy.
 */

export type OutboundPolicy = 'allow' | 'confirm' | 'deny';

export interface ToolCall {
  readonly tool: string;
  readonly input: unknown;
}

export interface Classification {
  readonly outbound: boolean;
  /** Hosts the call names (lowercased, without port). */
  readonly hosts: string[];
  /** One line for the employee (approval prompt) and the event; the caller redacts it. */
  readonly summary: string;
}

export type Verdict =
  | { readonly action: 'allow'; readonly reason: string }
  | { readonly action: 'confirm'; readonly reason: string }
  | { readonly action: 'deny'; readonly reason: string };

/** Tools of Claude Code, Codex and Gemini CLI that only touch the workspace or the CLI's own state. */
const LOCAL_TOOLS = new Set([
  // Claude Code
  'Read', 'Write', 'Edit', 'MultiEdit', 'NotebookEdit', 'NotebookRead', 'Glob', 'Grep', 'LS', 'TodoWrite',
  'TodoRead', 'Task', 'Agent', 'ExitPlanMode', 'EnterPlanMode', 'BashOutput', 'KillShell', 'KillBash', 'Skill',
  'SlashCommand', 'ToolSearch', 'TaskOutput', 'TaskStop',
  // Codex
  'apply_patch', 'update_plan', 'view_image',
  // Gemini CLI
  'read_file', 'write_file', 'replace', 'edit', 'glob', 'search_file_content', 'grep_search', 'list_directory',
  'read_many_files', 'save_memory', 'write_todos', 'activate_skill',
]);

/** Tools that fetch a URL named in their input. */
const FETCH_TOOLS = new Set(['WebFetch', 'web_fetch']);
/** Tools that search the web (no host of ours is named). */
const SEARCH_TOOLS = new Set(['WebSearch', 'google_web_search', 'web_search']);
/** Shell tools. */
const SHELL_TOOLS = new Set(['Bash', 'run_shell_command', 'shell', 'exec_command', 'local_shell']);

/** Commands that never open a connection by themselves (when not combined with substitutions). */
const LOCAL_COMMANDS = new Set([
  'ls', 'cat', 'head', 'tail', 'wc', 'grep', 'egrep', 'fgrep', 'rg', 'find', 'pwd', 'echo', 'printf', 'mkdir',
  'rmdir', 'touch', 'cp', 'mv', 'rm', 'ln', 'sed', 'awk', 'sort', 'uniq', 'cut', 'tr', 'diff', 'cmp', 'file',
  'stat', 'du', 'df', 'date', 'basename', 'dirname', 'realpath', 'readlink', 'tee', 'true', 'false', 'test', '[',
  'jq', 'cd', 'sleep', 'chmod', 'tar', 'gzip', 'gunzip', 'zip', 'unzip', 'md5sum', 'sha256sum', 'base64',
  'nl', 'column', 'paste', 'comm', 'fold', 'rev', 'seq', 'yes', 'which', 'type', 'whoami', 'id', 'uname', 'tree',
]);
/** Git subcommands that stay local. */
const LOCAL_GIT = new Set([
  'status', 'diff', 'log', 'add', 'commit', 'show', 'branch', 'checkout', 'switch', 'restore', 'init', 'rev-parse',
  'ls-files', 'mv', 'rm', 'stash', 'tag', 'merge', 'rebase', 'reset', 'blame', 'grep', 'config', 'describe',
  'cherry-pick', 'revert', 'shortlog', 'show-ref', 'worktree',
]);

export function classify(call: ToolCall): Classification {
  const input = (call.input && typeof call.input === 'object' ? call.input : {}) as Record<string, unknown>;
  const str = (key: string) => (typeof input[key] === 'string' ? (input[key] as string) : '');

  if (LOCAL_TOOLS.has(call.tool)) {
    const target = str('file_path') || str('path') || str('absolute_path') || str('pattern');
    return { outbound: false, hosts: [], summary: `${call.tool}${target ? ` ${target}` : ''}` };
  }
  if (FETCH_TOOLS.has(call.tool)) {
    const text = str('url') || str('prompt');
    return { outbound: true, hosts: hostsIn(text), summary: `${call.tool} ${text}` };
  }
  if (SEARCH_TOOLS.has(call.tool)) {
    return { outbound: true, hosts: [], summary: `${call.tool} ${str('query')}` };
  }
  if (SHELL_TOOLS.has(call.tool)) {
    const command = str('command') || (Array.isArray(input.command) ? (input.command as unknown[]).join(' ') : '');
    const hosts = hostsIn(command);
    return { outbound: hosts.length > 0 || !isPlainlyLocalCommand(command), hosts, summary: `${call.tool}: ${command}` };
  }
  // MCP tools and anything unknown: assume they reach out.
  const text = JSON.stringify(call.input ?? {});
  return { outbound: true, hosts: hostsIn(text), summary: `${call.tool} ${text}` };
}

export function decide(policy: OutboundPolicy, c: Classification, connectionHosts: readonly string[]): Verdict {
  if (!c.outbound) return { action: 'allow', reason: 'local tool' };
  const unknown = c.hosts.filter((h) => !hostAllowed(h, connectionHosts));
  if (unknown.length > 0) {
    return { action: 'deny', reason: `host ${unknown.join(', ')} is not in this agent's connections` };
  }
  if (policy === 'allow') return { action: 'allow', reason: 'outbound policy allows' };
  if (policy === 'deny') return { action: 'deny', reason: "this agent's outbound policy denies calls to the outside world" };
  return { action: 'confirm', reason: 'outbound call needs the employee’s approval' };
}

/** `api.example.com` matches itself; `*.example.com` matches any subdomain (not the apex). */
export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const h = host.toLowerCase();
  return allowed.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith('*.') ? h.endsWith(p.slice(1)) && h.length > p.length - 1 : h === p;
  });
}

const URL_HOST = /\b(?:https?|wss?|ftp|sftp|ssh|git):\/\/(?:[^\s/@'"]+@)?(\[[0-9a-f:]+\]|[a-z0-9.-]+)/gi;
const SCP_HOST = /(?:^|\s)[a-z0-9._-]+@([a-z0-9.-]+\.[a-z]{2,}):/gi;

export function hostsIn(text: string): string[] {
  const hosts = new Set<string>();
  for (const m of text.matchAll(URL_HOST)) hosts.add(m[1].toLowerCase().replace(/\.$/, ''));
  for (const m of text.matchAll(SCP_HOST)) hosts.add(m[1].toLowerCase());
  return [...hosts];
}

/**
 * True when every command in a shell line is on the local list. Substitutions, `eval`, `/dev/tcp`
 * and anything unlisted make the whole line outbound.
 */
export function isPlainlyLocalCommand(command: string): boolean {
  if (command.trim().length === 0) return true;
  if (/\$\(|`|<\(|>\(|\/dev\/(tcp|udp)\//.test(command)) return false;
  for (const segment of splitShell(command)) {
    const words = segment.trim().split(/\s+/).filter(Boolean);
    while (words.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0])) words.shift();
    if (words.length === 0) continue;
    const program = words[0].replace(/^.*\//, '');
    if (program === 'git') {
      const sub = words.slice(1).find((w) => !w.startsWith('-'));
      if (!sub || !LOCAL_GIT.has(sub)) return false;
      continue;
    }
    if (!LOCAL_COMMANDS.has(program)) return false;
  }
  return true;
}

/** Splits on `;`, `&&`, `||`, `|`, `&` and newlines outside quotes. */
function splitShell(command: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (let i = 0; i < command.length; i += 1) {
    const ch = command[i];
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"') current += command[++i] ?? '';
      current += ch === quote ? '' : ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      continue;
    }
    if (ch === '\\') {
      current += command[++i] ?? '';
      continue;
    }
    if (ch === ';' || ch === '|' || ch === '&' || ch === '\n') {
      parts.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts;
}
