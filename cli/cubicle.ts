/**
 * `cubicle`: the employee CLI. Parses the command line (node:util parseArgs: no dependency), runs one
 * command, and exits with a code from errors.ts; a failure is one line on stderr.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { revokeRefreshToken, endpointsOf } from '../console/src/core/oauth';
import * as commands from './commands';
import { CliError, EXIT, explain } from './errors';
import { browserSignIn, localSignIn, openBrowser, whoIs } from './login';
import { connect, fetchSettings, forgetSession, readSession, saveSession } from './session';

export const USAGE = `Usage: cubicle <command> [options]

  login [--url URL] [--user ID] [--no-browser]   sign in (a browser window; --user: local mode only)
  logout                                         sign out and forget the tokens
  agents                                         your agents: status, provider, last activity
  usage                                          this month's spend and limits, yours and per agent
  wake <agent> | sleep <agent>                   start or stop an agent
  send <agent> <text...> [--no-wait] [--timeout SECONDS]
                                                 send a message and print the reply (default: wait 600 s)
  tail <agent> [--from SEQ]                      follow an agent's events live (Ctrl-C to stop)
  approvals                                      what your agents are waiting for you to approve
  approve <id> | deny <id> [--agent AGENT]       decide one
  credential set <provider|connection> [--kind KIND]
                                                 store a credential, read from a prompt or stdin
Options: --json (machine-readable output), --help
Exit codes: 0 ok, 1 failure, 2 usage, 3 not signed in, 4 not found, 5 refused, 6 timed out.`;

export interface RunIo extends commands.Io {
  readonly env: NodeJS.ProcessEnv;
}

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  url: { type: 'string' },
  user: { type: 'string' },
  'no-browser': { type: 'boolean' },
  'no-wait': { type: 'boolean' },
  timeout: { type: 'string' },
  kind: { type: 'string' },
  agent: { type: 'string' },
  from: { type: 'string' },
} as const;

export async function run(argv: readonly string[], io: RunIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (error) {
    const { code, line } = explain(error);
    io.err(`cubicle: ${line}`);
    return code;
  }
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new CliError(`missing ${what}. Run "cubicle --help".`, EXIT.usage);
  return value;
}

function wholeNumber(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value)) throw new CliError(`${what} must be a whole number, got "${value}".`, EXIT.usage);
  return Number(value);
}

async function dispatch(argv: readonly string[], io: RunIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${(error as Error).message}. Run "cubicle --help".`, EXIT.usage);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    io.out(USAGE);
    return command || values.help ? EXIT.ok : EXIT.usage;
  }
  const json = values.json === true;
  const ctx = async (): Promise<commands.Context> => {
    const conn = await connect(io.env);
    return { conn, api: commands.apiFor(conn), io, json };
  };
  const agentArg = () => need(rest[0], 'the agent id');
  const noMore = (n: number) => {
    if (rest.length > n) throw new CliError(`unexpected "${rest[n]}". Run "cubicle --help".`, EXIT.usage);
  };

  switch (command) {
    case 'login': {
      noMore(0);
      const url = values.url ?? io.env.CUBICLE_URL ?? readSession(io.env)?.url;
      if (!url)
        throw new CliError(
          "give the console's address: cubicle login --url https://<your Cubicle address>",
          EXIT.usage,
        );
      const settings = await fetchSettings(url);
      const tokens = values.user
        ? await localSignIn(settings, values.user)
        : await browserSignIn(settings, {
            show: (address) => {
              io.err(`Open this address to sign in:\n  ${address}`);
              if (!values['no-browser']) openBrowser(address);
            },
          });
      saveSession(io.env, { url: new URL(url).origin, settings, tokens });
      io.out(
        json
          ? JSON.stringify({ signedIn: whoIs(tokens), url: new URL(url).origin })
          : `Signed in as ${whoIs(tokens)} at ${new URL(url).origin}.`,
      );
      return EXIT.ok;
    }
    case 'logout': {
      noMore(0);
      const saved = readSession(io.env);
      if (saved?.tokens.refreshToken) {
        await revokeRefreshToken(
          await endpointsOf(saved.settings.auth).catch(() => ({ authorization: '', token: '' })),
          saved.settings.auth.cliClientId,
          saved.tokens.refreshToken,
        );
      }
      io.out(forgetSession(io.env) ? 'Signed out.' : 'You were not signed in.');
      return EXIT.ok;
    }
    case 'agents':
      noMore(0);
      return commands.agents(await ctx());
    case 'usage':
      noMore(0);
      return commands.usage(await ctx());
    case 'wake':
    case 'sleep':
      noMore(1);
      return commands.wakeOrSleep(await ctx(), command, agentArg());
    case 'send': {
      const agentId = agentArg();
      const text = rest.slice(1).join(' ');
      need(text.trim() || undefined, 'the message text');
      const timeout = wholeNumber(values.timeout, '--timeout') ?? 600;
      return commands.send(await ctx(), agentId, text, { wait: !values['no-wait'], timeoutMs: timeout * 1000 });
    }
    case 'tail':
      noMore(1);
      return commands.tail(await ctx(), agentArg(), wholeNumber(values.from, '--from'));
    case 'approvals':
      noMore(0);
      return commands.approvals(await ctx());
    case 'approve':
    case 'deny':
      noMore(1);
      return commands.decide(await ctx(), command, need(rest[0], 'the approval id'), values.agent);
    case 'credential': {
      if (rest[0] !== 'set')
        throw new CliError('the credential command is "cubicle credential set <provider|connection>".', EXIT.usage);
      if (rest.length > 2)
        throw new CliError(
          'the value is read from a prompt or from stdin, never from the command line (it would stay in your shell history).',
          EXIT.usage,
        );
      return commands.credentialSet(await ctx(), need(rest[1], 'the provider or connection name'), values.kind);
    }
    default:
      throw new CliError(`unknown command "${command}". Run "cubicle --help".`, EXIT.usage);
  }
}

/** Reads a secret: a hidden prompt on a terminal, else all of stdin. */
async function readSecret(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const output = rl as unknown as { _writeToOutput: (s: string) => void };
  let asked = false;
  output._writeToOutput = (s: string) => {
    if (!asked) {
      asked = true;
      process.stderr.write(s);
    }
  };
  return new Promise((resolve) =>
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    }),
  );
}

if (require.main === module) {
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  void run(process.argv.slice(2), {
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    secret: readSecret,
    signal: abort.signal,
  }).then((code) => {
    process.exitCode = code;
    // Nothing else should keep the process alive (open sockets are closed by the commands).
    setTimeout(() => process.exit(code), 50).unref();
  });
}
