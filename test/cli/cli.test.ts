/**
 * The `cubicle` CLI against local mode (issue 11: the real API, relay, issuer and a supervisor per agent
 * with the stand-in provider CLI), in-process; and the committed bundle as a real process. Every
 * command, its exit code and its --json output.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BUNDLE } from '../../cli/build';
import { run, type RunIo } from '../../cli/cubicle';
import { EXIT } from '../../cli/errors';
import { sessionFile } from '../../cli/session';
import { startLocalConsole, type LocalConsole } from '../console/support/local';

let local: LocalConsole;
beforeAll(async () => {
  local = await startLocalConsole();
});
afterAll(async () => {
  await local?.close();
});

/** An agent's start spawns its supervisor: on a loaded machine a first reply takes seconds. */
const AGENT_MS = 45_000;
/** A request id as API Gateway gives one (local mode: a UUID). */
const REQUEST_ID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** Stores a credential through the API, as setup for commands that need a running agent. */
async function storeCredential(user: string, route: string, value: string): Promise<void> {
  const token = await tokenOf(user);
  const response = await fetch(`${local.origin}${route}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ value }),
  });
  expect(response.status).toBe(204);
}

async function tokenOf(user: string): Promise<string> {
  return (
    (await (
      await fetch(`${local.origin}/local/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user }),
      })
    ).json()) as { token: string }
  ).token;
}

interface Ran {
  code: number;
  out: string[];
  err: string[];
}

function io(
  env: NodeJS.ProcessEnv,
  stdin = '',
  signal = new AbortController().signal,
): RunIo & { out: (l: string) => void; lines: { out: string[]; err: string[] } } {
  const lines = { out: [] as string[], err: [] as string[] };
  return {
    env,
    lines,
    out: (l) => lines.out.push(l),
    err: (l) => lines.err.push(l),
    secret: async () => stdin,
    signal,
  };
}

async function cubicle(env: NodeJS.ProcessEnv, args: string[], stdin?: string): Promise<Ran> {
  const i = io(env, stdin);
  const code = await run(args, i);
  return { code, ...i.lines };
}

const home = () => ({ CUBICLE_CONFIG_DIR: mkdtempSync(path.join(tmpdir(), 'cubicle-cli-')) });

async function signedIn(user: string): Promise<NodeJS.ProcessEnv> {
  const env = home();
  const login = await cubicle(env, ['login', '--url', local.origin, '--user', user]);
  expect(login).toEqual({ code: 0, out: [`Signed in as ${user} at ${local.origin}.`], err: [] });
  return env;
}

describe('login and the session file', () => {
  it('signs in with PKCE through the loopback redirect, and keeps the tokens in a file only the user can read', async () => {
    const env = home();
    const i = io(env);
    const pending = run(['login', '--url', local.origin, '--no-browser'], i);
    // Play the browser: open the printed address, pick alice on the issuer's page, follow the redirect to the loopback listener.
    // Login first reads the console's settings; on a loaded machine (CI) that takes seconds, so wait on a deadline.
    let address: string | undefined;
    for (const deadline = Date.now() + 30_000; !address && Date.now() < deadline;) {
      address = i.lines.err.join('\n').match(/https?:\/\/\S+\/local\/authorize\S+/)?.[0];
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(address).toBeDefined();
    const page = await (await fetch(address!)).text();
    expect(page).toContain('Sign in as alice (alice@');
    const form = new URLSearchParams(
      [...page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [
        m[1],
        m[2].replace(/&#38;/g, '&'),
      ]),
    );
    expect(form.get('code_challenge_method')).toBe('S256');
    form.set('user', 'alice');
    const redirect = await fetch(`${local.origin}/local/authorize`, { method: 'POST', body: form, redirect: 'manual' });
    const callback = redirect.headers.get('location')!;
    expect(callback).toMatch(/^http:\/\/localhost:53682\/callback\?code=/);
    expect(await (await fetch(callback.replace('localhost', '127.0.0.1'))).text()).toBe(
      'Signed in to Cubicle. You can close this tab.',
    );
    expect(await pending).toBe(EXIT.ok);
    expect(i.lines.out).toEqual([`Signed in as alice at ${local.origin}.`]);
    expect(statSync(sessionFile(env)).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(sessionFile(env))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(sessionFile(env), 'utf8')).tokens.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await cubicle(env, ['agents', '--json'])).code).toBe(EXIT.ok);
    expect(await cubicle(env, ['logout'])).toEqual({ code: 0, out: ['Signed out.'], err: [] });
    expect(await cubicle(env, ['agents'])).toEqual({
      code: EXIT.auth,
      out: [],
      err: ['cubicle: You are not signed in: run "cubicle login --url <console address>".'],
    });
  });
});

describe('commands', () => {
  let alice: NodeJS.ProcessEnv;
  beforeAll(async () => {
    alice = await signedIn('alice');
    await storeCredential(
      'alice',
      '/v1/credentials/anthropic',
      JSON.stringify({ kind: 'api-key', value: 'sk-ant-api03-setup' }),
    );
    await storeCredential('alice', '/v1/connections/crm/credential', 'crm-setup');
    await storeCredential(
      'alice',
      '/v1/credentials/openai',
      JSON.stringify({ kind: 'api-key', value: 'sk-openai-setup' }),
    );
    await storeCredential('alice', '/v1/connections/bank-feed/credential', 'bank-setup');
  });

  it('agents: a table, or JSON for scripts', async () => {
    const table = await cubicle(alice, ['agents']);
    expect(table.code).toBe(0);
    expect(table.out[0]).toMatch(/^AGENT\s+STATUS\s+PROVIDER\s+LAST ACTIVITY$/);
    expect(table.out.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['finance', 'sales']);
    const json = JSON.parse((await cubicle(alice, ['agents', '--json'])).out[0]);
    expect(json.agents.map((a: { agentId: string; connections: string[] }) => [a.agentId, a.connections])).toEqual([
      ['finance', ['bank-feed']],
      ['sales', ['crm']],
    ]);
  });

  it('wake and sleep say what happened', async () => {
    expect(await cubicle(alice, ['wake', 'finance'])).toEqual({ code: 0, out: ['finance is starting.'], err: [] });
    await new Promise((r) => setTimeout(r, 100));
    expect((await cubicle(alice, ['wake', 'finance'])).out).toEqual(['finance is already awake.']);
    expect((await cubicle(alice, ['sleep', 'finance'])).out).toEqual(['finance is going to sleep.']);
  });

  it('send waits for the reply and prints it; --no-wait prints the message id', async () => {
    expect(await cubicle(alice, ['send', 'sales', 'hello', 'from', 'the', 'cli'])).toEqual({
      code: 0,
      out: ['echo: hello from the cli'],
      err: [],
    });
    const quick = await cubicle(alice, ['send', 'sales', 'later', '--no-wait', '--json']);
    expect(quick.code).toBe(0);
    expect(JSON.parse(quick.out[0]).messageId).toMatch(/^\d{13}-[0-9a-f]{16}$/);
  });

  it("usage: this month's spend per agent (the stand-in Claude CLI prices each run), a table or JSON", async () => {
    let json: { month: string; user: Record<string, unknown>; agents: { agentId: string; spentUsd: number }[] };
    for (let tries = 0; ; tries += 1) {
      const ran = await cubicle(alice, ['usage', '--json']);
      expect(ran.code).toBe(0);
      json = JSON.parse(ran.out[0]);
      if (json.agents.find((a) => a.agentId === 'sales')!.spentUsd >= 0.01 || tries > 50) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(json.month).toMatch(/^\d{4}-\d{2}$/);
    expect(json.user).not.toHaveProperty('limitUsd');
    expect(json.agents.map((a) => a.agentId)).toEqual(['finance', 'sales']);
    expect(json.agents[1].spentUsd).toBeGreaterThanOrEqual(0.01);
    const table = await cubicle(alice, ['usage']);
    expect(table.code).toBe(0);
    expect(table.out[0]).toMatch(/^Usage in \d{4}-\d{2} \(resets \d{4}-\d{2}-01\):$/);
    expect(table.out[1]).toMatch(/^\s+SPENT\s+LIMIT\s+STATE\s+MESSAGES\s+TOKENS IN\/OUT$/);
    expect(table.out[2]).toMatch(/^you \(all agents\)\s+\$\d+\.\d\d\s+none\s+no limit\s+\d+\s+\d+\/\d+$/);
    expect(table.out.slice(3, 5).map((l) => l.split(/\s+/)[0])).toEqual(['finance', 'sales']);
  });

  it('send with an outbound fetch: the approval shows in `approvals`, `approve` lets it through and send prints the result', async () => {
    const sending = cubicle(alice, ['send', 'sales', 'fetch https://acme.my.salesforce.com/x']);
    let listed: { approvals: Array<{ approvalId: string; agentId: string; hosts: string[] }> } = { approvals: [] };
    for (let n = 0; n < AGENT_MS / 50 && listed.approvals.length === 0; n++) {
      await new Promise((r) => setTimeout(r, 50));
      listed = JSON.parse((await cubicle(alice, ['approvals', '--json'])).out[0]);
    }
    const [pending] = listed.approvals;
    expect(pending).toMatchObject({ agentId: 'sales', hosts: ['acme.my.salesforce.com'] });
    const human = await cubicle(alice, ['approvals']);
    expect(human.out[1]).toMatch(
      new RegExp(
        `^${pending.approvalId}\\s+sales\\s+WebFetch\\s+acme.my.salesforce.com\\s+\\d:\\d\\d left\\s+WebFetch https://acme.my.salesforce.com/x$`,
      ),
    );
    expect(await cubicle(alice, ['approve', pending.approvalId])).toEqual({
      code: 0,
      out: ['Approved: sales goes ahead.'],
      err: [],
    });
    const sent = await sending;
    expect(sent.code).toBe(0);
    expect(sent.out).toEqual(['fetched acme.my.salesforce.com']);
    expect(sent.err.join('\n')).toContain(`cubicle approve ${pending.approvalId}`);
    // Decided once: a second decision is refused (409), an unknown id is not found.
    const again = await cubicle(alice, ['deny', pending.approvalId, '--agent', 'sales']);
    expect(again.code).toBe(EXIT.refused);
    expect(again.err[0]).toMatch(
      new RegExp(`^cubicle: This approval was already approved\\. \\(request id: ${REQUEST_ID}\\)$`),
    );
    expect((await cubicle(alice, ['deny', pending.approvalId])).code).toBe(EXIT.notFound);
  });

  // sales is awake from the sends above (finance was just put to sleep, and a restart on a loaded machine is slow).
  it('tail follows live over the relay and resumes after a drop: every event once, in order', async () => {
    const abort = new AbortController();
    const i = io(alice, '', abort.signal);
    const tailing = run(['tail', 'sales', '--json'], i);
    await new Promise((r) => setTimeout(r, 300));
    await cubicle(alice, ['send', 'sales', 'one', '--no-wait']);
    await until(() => i.lines.out.some((l) => l.includes('echo: one')), AGENT_MS);
    expect(local.platform.dropDevices()).toBeGreaterThan(0);
    await cubicle(alice, ['send', 'sales', 'two', '--no-wait']);
    await until(() => i.lines.out.some((l) => l.includes('echo: two')), AGENT_MS);
    abort.abort();
    expect(await tailing).toBe(0);
    const seqs = i.lines.out.map((l) => JSON.parse(l).seq as number);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, n) => seqs[0] + n));
    expect(i.lines.out.filter((l) => l.includes('echo: two'))).toHaveLength(1);
  });

  it('credential set reads the value from stdin, validates it with the shared schema, and never prints it', async () => {
    const stored = await cubicle(
      alice,
      ['credential', 'set', 'anthropic', '--kind', 'oauth-token'],
      'sk-ant-oat01-cli\n',
    );
    expect(stored).toEqual({
      code: 0,
      out: ['Stored your anthropic credential; sales uses it from the next start.'],
      err: [],
    });
    expect(local.secret('cubicle/acme/alice/provider/anthropic')).toBe(
      '{"kind":"oauth-token","value":"sk-ant-oat01-cli"}',
    );
    expect((await cubicle(alice, ['credential', 'set', 'crm'], 'crm-token')).code).toBe(0);
    expect(local.secret('cubicle/acme/alice/connection/crm')).toBe('crm-token');
    const openai = local.secret('cubicle/acme/alice/provider/openai');
    const wrongKind = await cubicle(alice, ['credential', 'set', 'anthropic', '--kind', 'access-token'], 'secret-x');
    expect(wrongKind).toEqual({
      code: EXIT.usage,
      out: [],
      err: ['cubicle: --kind must be one of api-key, oauth-token for anthropic.'],
    });
    const empty = await cubicle(alice, ['credential', 'set', 'openai'], '  \n');
    expect(empty.err).toEqual(['cubicle: Enter the credential: the field is empty.']);
    const inArgv = await cubicle(alice, ['credential', 'set', 'openai', 'sk-in-argv']);
    expect(inArgv.code).toBe(EXIT.usage);
    expect(inArgv.err[0]).toMatch(/never from the command line/);
    expect((await cubicle(alice, ['credential', 'set', 'github'], 'x')).code).toBe(EXIT.notFound);
    expect(local.secret('cubicle/acme/alice/provider/openai')).toBe(openai);
  });

  it("errors are one line with the exit code: not found (another user's agent), usage", async () => {
    const bruno = await signedIn('bruno');
    const theirs = await cubicle(bruno, ['send', 'sales', 'let me in', '--no-wait']);
    expect(theirs.code).toBe(EXIT.notFound);
    expect(theirs.err).toHaveLength(1);
    expect(theirs.err[0]).toMatch(new RegExp(`^cubicle: Agent not found \\(request id: ${REQUEST_ID}\\)$`));
    expect((await cubicle(bruno, ['wake'])).err).toEqual(['cubicle: missing the agent id. Run "cubicle --help".']);
    expect((await cubicle(bruno, ['agents', '--bogus'])).code).toBe(EXIT.usage);
    expect((await cubicle(bruno, ['send', 'research', 'x', '--timeout', 'soon'])).err).toEqual([
      'cubicle: --timeout must be a whole number, got "soon".',
    ]);
  });

  it('CUBICLE_TOKEN with CUBICLE_URL works without a session file', async () => {
    const token = await tokenOf('bruno');
    const listed = await cubicle({ ...home(), CUBICLE_TOKEN: token, CUBICLE_URL: local.origin }, ['agents', '--json']);
    expect(JSON.parse(listed.out[0]).agents.map((a: { agentId: string }) => a.agentId)).toEqual(['research', 'writer']);
  });
});

describe('the bundle', () => {
  it('runs as a real process with Node alone: help, a usage error and a sign-in error, with their exit codes', () => {
    const env = { PATH: process.env.PATH, CUBICLE_CONFIG_DIR: home().CUBICLE_CONFIG_DIR };
    expect(spawnSync(process.execPath, [CLI_BUNDLE, '--help'], { env, encoding: 'utf8' })).toMatchObject({
      status: 0,
      stdout: expect.stringContaining('Usage: cubicle <command>'),
    });
    expect(spawnSync(process.execPath, [CLI_BUNDLE, 'frobnicate'], { env, encoding: 'utf8' })).toMatchObject({
      status: 2,
      stderr: 'cubicle: unknown command "frobnicate". Run "cubicle --help".\n',
    });
    expect(spawnSync(process.execPath, [CLI_BUNDLE, 'agents'], { env, encoding: 'utf8' })).toMatchObject({
      status: 3,
      stdout: '',
    });
  });
});

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
