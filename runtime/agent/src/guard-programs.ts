/**
 * What each program can do, as far as the guard knows it. Three kinds:
 * - LOCAL: programs with no option that runs another program or opens a connection, or whose few such
 *   options are checked here (find -exec, sort --compress-program, rg --pre, test -v).
 * - NETWORK: clients whose destinations are read from their arguments the way the tool reads them.
 * - everything else (interpreters, build tools, git, xargs, env, awk, sed, tar, ...) can run other
 *   programs or open sockets, so it is outbound. Unknown is outbound.
 */
import { addressHost, authorityHost, COMPUTED, normalizeHost, type HostResult } from './guard-hosts';
import type { ShellWord } from './shell-syntax';

export interface LocalCheck {
  /** Why this call can run other programs after all. */
  readonly exec?: string;
  /** Paths this call writes (checked against the workspace). */
  readonly writes?: ShellWord[];
}

export interface Destinations {
  readonly hosts: HostResult[];
  /** Why the destination cannot be read from the command (the call is refused). */
  readonly unreadable?: string;
}

type LocalRule = (args: ShellWord[]) => LocalCheck;

const none: LocalRule = () => ({});
/** Programs that write the files they name: every non-option argument is checked. */
const writesArgs: LocalRule = (args) => ({
  writes: args.filter((a) => !a.text.startsWith('-') || a.text.includes('=')).map(optionValue),
});
/** A word that may turn into an option once expanded. */
const mayBeOption = (a: ShellWord) => a.text.startsWith(COMPUTED) || a.pattern;

export const LOCAL: Readonly<Record<string, LocalRule>> = Object.fromEntries([
  ...[
    'ls',
    'cat',
    'head',
    'tail',
    'wc',
    'grep',
    'egrep',
    'fgrep',
    'pwd',
    'echo',
    'rmdir',
    'rm',
    'cut',
    'tr',
    'diff',
    'cmp',
    'file',
    'stat',
    'du',
    'df',
    'date',
    'basename',
    'dirname',
    'realpath',
    'readlink',
    'true',
    'false',
    ':',
    'sleep',
    'chmod',
    'zcat',
    'md5sum',
    'sha1sum',
    'sha256sum',
    'sha512sum',
    'base64',
    'nl',
    'column',
    'paste',
    'comm',
    'fold',
    'rev',
    'seq',
    'yes',
    'which',
    'type',
    'whoami',
    'id',
    'uname',
    'jq',
    'printenv',
    'tac',
    'od',
    'strings',
    'expr',
  ].map((name) => [name, none] as const),
  ...['tee', 'touch', 'mkdir', 'cp', 'mv', 'ln', 'gzip', 'gunzip', 'uniq', 'tree', 'xxd'].map(
    (name) => [name, writesArgs] as const,
  ),
  ['cd', none], // its target is checked in guard-shell.ts
  // Options come before the format: only the first argument can be -v.
  [
    'printf',
    ([first]) =>
      first && (first.text === '-v' || mayBeOption(first))
        ? { exec: 'printf -v assigns to a variable name, which can run commands' }
        : {},
  ],
  ['test', testRule],
  ['[', testRule],
  ['find', findRule],
  ['sort', sortRule],
  [
    'rg',
    (args) =>
      args.some((a) => a.text.startsWith('--pre') || mayBeOption(a))
        ? { exec: 'rg --pre runs a program on every file' }
        : {},
  ],
]);

function testRule(args: ShellWord[]): LocalCheck {
  if (args.some((a) => a.text === '-v' || a.text === '-R'))
    return { exec: 'test -v evaluates an array subscript, which can run commands' };
  for (let i = 0; i + 1 < args.length; i += 1) {
    if (args[i].computed && (args[i + 1].computed || args[i + 1].text.includes('['))) {
      return { exec: 'test with a computed operator could be test -v, which can run commands' };
    }
  }
  return {};
}

function findRule(args: ShellWord[]): LocalCheck {
  const writes: ShellWord[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i];
    if (['-exec', '-execdir', '-ok', '-okdir'].includes(a.text)) return { exec: `find ${a.text} runs other programs` };
    if (a.text.startsWith(COMPUTED)) return { exec: 'find with a computed argument (it could be -exec)' };
    if (['-fprint', '-fprint0', '-fprintf', '-fls'].includes(a.text) && args[i + 1]) writes.push(args[i + 1]);
  }
  return { writes };
}

function sortRule(args: ShellWord[]): LocalCheck {
  const writes: ShellWord[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i];
    const long = /^--([^=]*)/.exec(a.text);
    if (long && long[1].length > 0 && 'compress-program'.startsWith(long[1]))
      return { exec: 'sort --compress-program runs another program' };
    if (mayBeOption(a)) return { exec: 'sort with a computed option (it could be --compress-program)' };
    if (long && long[1].length > 0 && 'output'.startsWith(long[1]))
      writes.push(a.text.includes('=') ? optionValue(a) : args[i + 1]);
    else if (/^-[^-]*o/.test(a.text))
      writes.push(a.text.endsWith('o') ? args[i + 1] : { ...a, text: a.text.slice(a.text.indexOf('o') + 1) });
  }
  return { writes: writes.filter(Boolean) };
}

function optionValue(a: ShellWord): ShellWord {
  return a.text.startsWith('-') && a.text.includes('=') ? { ...a, text: a.text.slice(a.text.indexOf('=') + 1) } : a;
}

/** Splits arguments into options (with their values) and operands, GNU style. */
function splitOptions(args: ShellWord[], shortWithValue: string, longWithValue: readonly string[]) {
  const options: { name: string; value?: ShellWord }[] = [];
  const operands: ShellWord[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i];
    if (a.text === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (a.text.startsWith('--')) {
      const eq = a.text.indexOf('=');
      const name = a.text.slice(2, eq === -1 ? undefined : eq);
      if (eq !== -1) options.push({ name, value: { ...a, text: a.text.slice(eq + 1) } });
      else if (longWithValue.includes(name)) options.push({ name, value: args[++i] });
      else options.push({ name });
    } else if (a.text.startsWith('-') && a.text.length > 1) {
      for (let j = 1; j < a.text.length; j += 1) {
        const letter = a.text[j];
        if (shortWithValue.includes(letter)) {
          const rest = a.text.slice(j + 1);
          options.push({ name: letter, value: rest ? { ...a, text: rest } : args[++i] });
          break;
        }
        options.push({ name: letter });
      }
    } else operands.push(a);
  }
  return { options, operands };
}

const CURL_SHORT = 'AbcCdDeEFHKmoPQrtTuUwxXyYz';
const CURL_LONG = [
  'url',
  'proxy',
  'preproxy',
  'socks4',
  'socks4a',
  'socks5',
  'socks5-hostname',
  'proxy1.0',
  'resolve',
  'connect-to',
  'doh-url',
  'dns-servers',
  'config',
  'unix-socket',
  'abstract-unix-socket',
  'interface',
  'output',
  'output-dir',
  'header',
  'proxy-header',
  'data',
  'data-ascii',
  'data-binary',
  'data-raw',
  'data-urlencode',
  'json',
  'form',
  'form-string',
  'request',
  'user',
  'proxy-user',
  'user-agent',
  'referer',
  'cookie',
  'cookie-jar',
  'upload-file',
  'write-out',
  'max-time',
  'connect-timeout',
  'retry',
  'retry-delay',
  'retry-max-time',
  'continue-at',
  'limit-rate',
  'range',
  'cert',
  'key',
  'cacert',
  'capath',
  'ciphers',
  'oauth2-bearer',
  'noproxy',
  'proto',
  'proto-redir',
  'max-filesize',
  'speed-limit',
  'speed-time',
  'telnet-option',
  'quote',
  'trace',
  'trace-ascii',
  'stderr',
  'dump-header',
  'expect100-timeout',
  'variable',
  'aws-sigv4',
  'pinnedpubkey',
  'tls-max',
  'local-port',
  'max-redirs',
  'parallel-max',
  'happy-eyeballs-timeout-ms',
];
const PROXY_OPTIONS = new Set([
  'x',
  'proxy',
  'preproxy',
  'socks4',
  'socks4a',
  'socks5',
  'socks5-hostname',
  'proxy1.0',
  'doh-url',
]);

function curl(args: ShellWord[]): Destinations {
  const { options, operands } = splitOptions(args, CURL_SHORT, CURL_LONG);
  const hosts: HostResult[] = [];
  for (const operand of operands) hosts.push(addressHost(operand.text, { schemeless: true }) ?? { host: '' });
  for (const { name, value } of options) {
    if (name === 'K' || name === 'config')
      return { hosts, unreadable: 'curl -K reads its options and addresses from a file' };
    if (!value) continue;
    if (name === 'url') hosts.push(addressHost(value.text, { schemeless: true }) ?? { host: '' });
    if (PROXY_OPTIONS.has(name) && value.text !== '')
      hosts.push(addressHost(value.text, { schemeless: true }) ?? { host: '' });
    if (name === 'dns-servers') hosts.push(...value.text.split(',').map((s) => authorityHost(s)));
    if (name === 'resolve') {
      const m = /^\+?(?:\*|[^:]*):[\d*]*:(.+)$/.exec(value.text);
      if (!m) return { hosts, unreadable: `curl --resolve "${value.text}" is not host:port:address` };
      hosts.push(...m[1].split(',').map((addr) => normalizeHost(addr)));
    }
    if (name === 'connect-to') {
      const m = /^(?:\[[^\]]*\]|[^:]*):\d*:(\[[^\]]*\]|[^:]*):\d*$/.exec(value.text);
      if (!m) return { hosts, unreadable: `curl --connect-to "${value.text}" is not host:port:host:port` };
      if (m[1]) hosts.push(normalizeHost(m[1]));
    }
  }
  return { hosts: hosts.filter((h) => !('host' in h) || h.host !== '') };
}

const WGET_SHORT = 'aABDeiIloOPQRtTUwX';
const WGET_LONG = [
  'output-document',
  'output-file',
  'append-output',
  'input-file',
  'base',
  'execute',
  'directory-prefix',
  'tries',
  'timeout',
  'wait',
  'quota',
  'user-agent',
  'header',
  'post-data',
  'post-file',
  'body-data',
  'body-file',
  'method',
  'user',
  'password',
  'http-user',
  'http-password',
  'load-cookies',
  'save-cookies',
  'referer',
  'level',
  'accept',
  'reject',
  'domains',
  'exclude-domains',
  'include-directories',
  'exclude-directories',
  'bind-address',
  'limit-rate',
  'config',
  'ca-certificate',
  'certificate',
  'private-key',
  'dns-timeout',
  'connect-timeout',
  'read-timeout',
];

function wget(args: ShellWord[]): Destinations {
  const { options, operands } = splitOptions(args, WGET_SHORT, WGET_LONG);
  const hosts = operands.map((o) => addressHost(o.text, { schemeless: true }) ?? { host: '' });
  for (const { name, value } of options) {
    if (['e', 'execute', 'config'].includes(name))
      return { hosts, unreadable: `wget ${name.length === 1 ? '-' : '--'}${name} can set a proxy or other addresses` };
    if (['i', 'input-file'].includes(name)) return { hosts, unreadable: 'wget -i reads its addresses from a file' };
    if (['B', 'base'].includes(name) && value)
      hosts.push(addressHost(value.text, { schemeless: true }) ?? { host: '' });
  }
  return { hosts: hosts.filter((h) => !('host' in h) || h.host !== '') };
}

/** `[user@]host[:path]`, `host::module`, or `scheme://…`: the host an ssh-family operand names, if any. */
function remoteOperand(text: string, hostOnly: boolean): HostResult | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return addressHost(text);
  if (hostOnly) return authorityHost(text);
  const colon = text.search(/:/);
  const slash = text.indexOf('/');
  if (colon === -1 || (slash !== -1 && slash < colon)) return undefined; // a local path
  return authorityHost(text.slice(0, colon));
}

function sshFamily(program: string): (args: ShellWord[]) => Destinations {
  return (args) => {
    const { options, operands } = splitOptions(args, program === 'rsync' ? 'eBfT' : 'BbcDEeFIiJLlmOoPpQRSWw', [
      'rsh',
      'exclude',
      'include',
      'filter',
    ]);
    const bad = options.find((o) => ['o', 'F', 'S', 'e', 'rsh'].includes(o.name));
    if (bad)
      return {
        hosts: [],
        unreadable: `${program} ${bad.name.length === 1 ? '-' : '--'}${bad.name} can change where it connects or run a command`,
      };
    const hosts: HostResult[] = [];
    for (const { name, value } of options)
      if (name === 'J' && value) hosts.push(...value.text.split(',').map((j) => authorityHost(j)));
    const targets = program === 'ssh' ? operands.slice(0, 1) : operands;
    for (const operand of targets) {
      const result = remoteOperand(
        program === 'rsync' ? operand.text.replace('::', ':') : operand.text,
        program === 'ssh',
      );
      if (result) hosts.push(result);
    }
    return { hosts };
  };
}

function ncFamily(program: string): (args: ShellWord[]) => Destinations {
  return (args) => {
    const hosts: HostResult[] = [];
    for (const a of args) {
      if (a.text.startsWith('-') || /^[\d,-]+$/.test(a.text)) continue;
      if (program === 'socat') {
        const m = /^(?:tcp[46]?|udp[46]?|tcp-connect|udp-connect|openssl|ssl|socks4a?|proxy|sctp[46]?):([^:,]+)/i.exec(
          a.text,
        );
        if (m) hosts.push(normalizeHost(m[1]));
        else if (/^(exec|system)[:,]/i.test(a.text)) return { hosts, unreadable: 'socat EXEC/SYSTEM runs a program' };
        continue;
      }
      hosts.push(authorityHost(a.text));
    }
    if (args.some((a) => a.text === '-e' || a.text === '-c'))
      return { hosts, unreadable: `${program} -e/-c runs a program on the connection` };
    return { hosts };
  };
}

export const NETWORK: Readonly<Record<string, (args: ShellWord[]) => Destinations>> = {
  curl,
  wget,
  ssh: sshFamily('ssh'),
  scp: sshFamily('scp'),
  sftp: sshFamily('sftp'),
  rsync: sshFamily('rsync'),
  nc: ncFamily('nc'),
  ncat: ncFamily('ncat'),
  netcat: ncFamily('netcat'),
  telnet: ncFamily('telnet'),
  socat: ncFamily('socat'),
};

/** Why a program the guard does not list as local is outbound (the default reason covers the rest). */
export const EXEC_REASONS: Readonly<Record<string, string>> = {
  git: 'git runs hooks, filters and commands named in the repository’s configuration, and can reach remotes',
  awk: 'awk can run commands (system(), pipes) and gawk opens /inet sockets',
  gawk: 'awk can run commands (system(), pipes) and gawk opens /inet sockets',
  sed: 'sed can run commands (the e command and the s///e flag)',
  tar: 'tar can run programs (--to-command, --use-compress-program, --checkpoint-action) and reach remote archives',
  xargs: 'xargs runs other programs',
  env: 'env runs other programs',
  eval: 'eval runs text as commands',
  exec: 'exec runs another program',
  source: 'source runs a script',
  '.': '. runs a script',
  bash: 'a shell runs other programs',
  sh: 'a shell runs other programs',
};
