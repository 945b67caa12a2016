/**
 * Local mode end to end, as a real process (`npm start`): sign in as two users, store a credential,
 * message an agent (the stand-in CLI answers `echo:`), an outbound fetch under `outbound: confirm`
 * waits for the employee's approval through the real guard hook and approvals, another user sees none
 * of it, Ctrl-C leaves no process behind, and a restart keeps the history and the credential.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../console/src/core/api';
import {
  call,
  events,
  filesUnder,
  processesUnder,
  relayDevice,
  startLocalProcess,
  stillAlive,
  tokenFor,
  waitFor,
  waitForEvent,
  type LocalProcess,
} from './support';

const data = mkdtempSync(path.join(tmpdir(), 'cubicle-e2e-'));
/** Shaped like no known token, so only the vault's encryption can keep it off the disk. */
const CANARY = `zq-local-canary-${randomBytes(12).toString('hex')}`;
let running: LocalProcess | undefined;
let firstApproval = '';

afterAll(async () => {
  if (running && running.child.exitCode === null) await running.interrupt();
  rmSync(data, { recursive: true, force: true });
});

describe('local mode, end to end', () => {
  it('runs message → agent → approval → reply for one user and shows nothing of it to another', async () => {
    running = await startLocalProcess(['--port', '0', '--data', data]);
    const base = running.url;
    const alice = await tokenFor(base, 'alice');
    const bruno = await tokenFor(base, 'bruno');

    // Without a verified token API Gateway's authorizer answers 401 before any function runs.
    expect((await call(base, 'GET', '/v1/agents')).status).toBe(401);
    const [header, payload] = alice.split('.');
    expect((await call(base, 'GET', '/v1/agents', `${header}.${payload}.${'A'.repeat(342)}`)).status).toBe(401);

    const stored = await call(base, 'PUT', '/v1/credentials/anthropic', alice, {
      value: JSON.stringify({ kind: 'api-key', value: CANARY }),
    });
    expect(stored.status).toBe(204);
    expect((await call(base, 'PUT', '/v1/connections/crm/credential', alice, { value: `${CANARY}-crm` })).status).toBe(
      204,
    );

    // Alice's device on the relay (same origin, token as a subprotocol) sees the reply pushed live; a
    // token in the URL is refused, and bruno's device gets no more of alice's agent than an unknown one.
    const device = await relayDevice(base, alice);
    device.send({ type: 'subscribe', agentId: 'sales' });
    await expect(relayDevice(base, 'x', `/v1/relay?token=${alice}`)).rejects.toThrow(/relay answered 4\d\d/);
    const brunoDevice = await relayDevice(base, bruno);
    brunoDevice.send({ type: 'subscribe', agentId: 'sales' });
    brunoDevice.send({ type: 'subscribe', agentId: 'no-such-agent' });
    const errors = await waitFor(
      () => (brunoDevice.frames.filter((f) => f.type === 'error').length === 2 ? brunoDevice.frames : undefined),
      10_000,
      "bruno's two refusals",
    );
    expect(errors[0]).toEqual(errors[1]);

    const sent = await call(base, 'POST', '/v1/agents/sales/messages', alice, { text: 'hello' });
    expect(sent.status).toBe(202);
    expect(sent.body.outcome).toBe('started');
    const pushed = await waitFor(
      () =>
        device.frames.find(
          (f) =>
            f.type === 'event' &&
            (f.event as { type: string; data: { text?: string } }).type === 'reply' &&
            (f.event as { data: { text?: string } }).data.text === 'echo: hello',
        ),
      30_000,
      'echo: hello over the relay',
    );
    expect(pushed.agentId).toBe('sales');
    const seqs = device.frames.filter((f) => f.type === 'event').map((f) => f.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(brunoDevice.frames.filter((f) => f.type === 'event')).toEqual([]);
    device.close();
    brunoDevice.close();

    // An outbound call to a host of the agent's connection waits for the employee.
    await call(base, 'POST', '/v1/agents/sales/messages', alice, {
      text: 'fetch https://acme.my.salesforce.com/accounts',
    });
    const requested = await waitForEvent(base, alice, 'sales', (e) => e.type === 'approval.requested');
    expect(requested.data.hosts).toEqual(['acme.my.salesforce.com']);
    const approvalId = requested.data.approvalId as string;
    firstApproval = approvalId;

    // Another employee can neither see, message, wake nor approve for alice's agent: the same 404 as
    // for an agent that does not exist.
    expect((await call(base, 'GET', '/v1/agents/sales', bruno)).status).toBe(404);
    expect((await call(base, 'GET', '/v1/agents/sales/events', bruno)).status).toBe(404);
    expect((await call(base, 'POST', '/v1/agents/sales/messages', bruno, { text: 'hi' })).status).toBe(404);
    expect((await call(base, 'POST', '/v1/agents/sales/wake', bruno)).status).toBe(404);
    expect(
      (await call(base, 'POST', `/v1/approvals/${approvalId}`, bruno, { agentId: 'sales', decision: 'approve' }))
        .status,
    ).toBe(404);
    expect((await call(base, 'PUT', '/v1/credentials/anthropic', bruno, { value: 'x' })).status).toBe(404);
    const brunoAgents = await call(base, 'GET', '/v1/agents', bruno);
    expect(brunoAgents.body.agents.map((a: { agentId: string }) => a.agentId)).toEqual(['research', 'writer']);
    for (const agent of ['research', 'writer']) expect(await events(base, bruno, agent)).toEqual([]);
    // A Bedrock agent: nothing stored, its supervisor assumes the model invoker role (local STS) for the CLI.
    expect((await call(base, 'POST', '/v1/agents/research/messages', bruno, { text: 'hello bedrock' })).status).toBe(
      202,
    );
    await waitForEvent(base, bruno, 'research', (e) => e.type === 'reply' && e.data.text === 'echo: hello bedrock');

    const decided = await call(base, 'POST', `/v1/approvals/${approvalId}`, alice, {
      agentId: 'sales',
      decision: 'approve',
    });
    expect(decided).toMatchObject({ status: 200, body: { approvalId, decision: 'approved' } });
    await waitForEvent(
      base,
      alice,
      'sales',
      (e) => e.type === 'reply' && e.data.text === 'fetched acme.my.salesforce.com',
    );
    const resolved = (await events(base, alice, 'sales')).find((e) => e.type === 'approval.resolved');
    expect(resolved?.data).toMatchObject({ approvalId, status: 'approved', decidedBy: 'alice' });

    // A host outside the agent's connections is refused by the guard without asking anyone.
    await call(base, 'POST', '/v1/agents/sales/messages', alice, { text: 'fetch https://evil.example/steal' });
    await waitForEvent(base, alice, 'sales', (e) => e.type === 'reply' && e.data.text === 'refused evil.example');
    expect(
      (await events(base, alice, 'sales')).filter((e) => e.type === 'tool.denied').map((e) => e.data.hosts),
    ).toEqual([['evil.example']]);
    expect((await events(base, alice, 'sales')).filter((e) => e.type === 'approval.requested')).toHaveLength(1);

    // File tools stay in the pair's workspace and need no approval.
    await call(base, 'POST', '/v1/agents/sales/messages', alice, { text: 'write notes.md call the bank on monday' });
    await waitForEvent(base, alice, 'sales', (e) => e.type === 'reply' && e.data.text === 'wrote notes.md');
    expect((await events(base, alice, 'sales')).find((e) => e.type === 'file.written')?.data.path).toBe(
      path.join(data, 'workspaces', 'alice', 'sales', 'notes.md'),
    );

    // The console's and CLI's client sends with an Idempotency-Key: the answer to its first attempt is lost
    // on the way back, it retries with the same key, and the message is stored and run once.
    let attempts = 0;
    const lossy = (async (url: string, init: RequestInit) => {
      const response = await fetch(url, init);
      if (init.method === 'POST' && (attempts += 1) === 1) throw new TypeError('fetch failed');
      return response;
    }) as unknown as typeof fetch;
    const client = new ApiClient({
      baseUrl: base,
      token: async () => alice,
      fetch: lossy,
      pause: async () => undefined,
    });
    const once = await client.send('sales', 'once only');
    expect(attempts).toBe(2);
    await waitForEvent(base, alice, 'sales', (e) => e.type === 'reply' && e.data.text === 'echo: once only');
    await waitForEvent(base, alice, 'sales', (e) => e.type === 'message.done' && e.messageId === once.messageId);
    const received = (await events(base, alice, 'sales')).filter(
      (e) => e.type === 'message.started' && e.messageId === once.messageId,
    );
    expect(received).toHaveLength(1);
    expect(
      (await events(base, alice, 'sales')).filter((e) => e.type === 'reply' && e.data.text === 'echo: once only'),
    ).toHaveLength(1);
  });

  it('stops every process it started on Ctrl-C, even with an agent waiting for an approval', async () => {
    const base = running!.url;
    const alice = await tokenFor(base, 'alice');
    await call(base, 'POST', '/v1/agents/sales/messages', alice, {
      text: 'fetch https://acme.my.salesforce.com/pending',
    });
    await waitForEvent(
      base,
      alice,
      'sales',
      (e) => e.type === 'approval.requested' && String(e.data.summary).includes('/pending'),
    );

    const before = processesUnder(running!.child.pid!);
    const commands = before.map((p) => p.cmd).join('\n');
    // The supervisor, the stand-in CLI and its hook (waiting for the approval), and the five functions.
    expect(commands).toContain('runtime/agent/dist/entrypoint.cjs');
    expect(commands).toContain('stand-in.cjs claude');
    expect(commands).toContain('guard-hook.cjs claude');
    expect(before.filter((p) => p.cmd.includes('host/index.js'))).toHaveLength(5);

    // An open console tab (a device on the relay) does not hold up stopping.
    const tab = await relayDevice(base, alice);
    tab.send({ type: 'subscribe', agentId: 'sales' });
    // npm exits on the signal (by the signal); what matters is that everything under it is gone.
    await running!.interrupt(30_000);
    tab.close();
    expect(stillAlive(before)).toEqual([]);
    expect(running!.stdout()).toMatch(/^Cubicle local: http:\/\/127\.0\.0\.1:\d+\n$/);
    expect(running!.stderr()).toBe('');
  });

  it('keeps messages, events, approvals, credentials and workspaces across a restart', async () => {
    // The entry `npm start` runs, directly: its own exit code is visible here.
    running = await startLocalProcess(['--data', data], 'node');
    const base = running.url;
    const alice = await tokenFor(base, 'alice');
    const history = await events(base, alice, 'sales');
    expect(history.find((e) => e.type === 'reply' && e.data.text === 'echo: hello')).toBeDefined();
    expect(history.find((e) => e.type === 'reply' && e.data.text === 'fetched acme.my.salesforce.com')).toBeDefined();
    // The stop was recorded by the same task-events handler: the session is not left RUNNING.
    expect(history.filter((e) => e.type === 'lifecycle.stopped').at(-1)?.data).toMatchObject({
      stopCode: 'UserInitiated',
      exitCode: 0,
    });
    expect(history.filter((e) => e.type === 'approval.resolved').at(-1)?.data.status).toBe('aborted');
    expect((await call(base, 'GET', '/v1/agents/sales', alice)).body.status).toBe('STOPPED');
    // The Approvals table kept its rows: the first approval is still decided.
    const again = await call(base, 'POST', `/v1/approvals/${firstApproval}`, alice, {
      agentId: 'sales',
      decision: 'deny',
    });
    expect(again).toMatchObject({ status: 409, body: { status: 'approved' } });

    // The stored credential is still there (the agent refuses to start without one), and so is its workspace.
    await call(base, 'POST', '/v1/agents/sales/messages', alice, { text: 'again\nread notes.md' });
    await waitForEvent(base, alice, 'sales', (e) => e.type === 'reply' && e.data.text === 'echo: again');
    await waitForEvent(
      base,
      alice,
      'sales',
      (e) => e.type === 'reply' && e.data.text === 'read notes.md: call the bank on monday',
    );
    expect(await running.interrupt()).toBe(0);

    // Nothing the employee stored is on disk in plaintext (nor base64): vault, tables, logs, workspaces.
    const files = filesUnder(data);
    expect(files.some((f) => f.includes(`${path.sep}vault${path.sep}secrets${path.sep}`))).toBe(true);
    for (const form of [CANARY, Buffer.from(CANARY).toString('base64')]) {
      expect(files.filter((f) => readFileSync(f).includes(form))).toEqual([]);
    }
  });
});
