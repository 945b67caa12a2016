/**
 * Budgets end to end in local mode (`npm start`): the stand-in Claude CLI reports what each run cost (a
 * `spend <usd>` line), the relay counts it, the employee is told at 80 %, the message that crosses 100 %
 * finishes but the one queued behind it does not start, a new message is refused with 402, and the queued
 * one runs once the limit is raised (a restart with the new config), before anything sent later.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call, events, REPO, startLocalProcess, tokenFor, waitForEvent, type LocalProcess } from './support';

const dir = mkdtempSync(path.join(tmpdir(), 'cubicle-budgets-'));
const data = path.join(dir, 'data');
const configFile = path.join(dir, 'config.yaml');
let running: LocalProcess | undefined;

/** The bundled example with a fleet budget of `usd` per user per month. */
function writeConfig(usd: number): void {
  const example = readFileSync(path.join(REPO, 'config', 'example.yaml'), 'utf8');
  writeFileSync(configFile, example.replace(/^users:/m, `budgets: { monthlyUsdPerUser: ${usd} }\nusers:`));
}

afterAll(async () => {
  if (running && running.child.exitCode === null) await running.interrupt();
  rmSync(dir, { recursive: true, force: true });
});

describe('budgets in local mode', () => {
  it('counts usage, warns at 80 %, stops at the message boundary, refuses with 402, and loses no queued message', async () => {
    writeConfig(1);
    running = await startLocalProcess(['--port', '0', '--data', data, '--config', configFile]);
    let base = running.url;
    let alice = await tokenFor(base, 'alice');
    expect((await call(base, 'PUT', '/v1/credentials/anthropic', alice, { value: 'anything' })).status).toBe(204);
    expect((await call(base, 'PUT', '/v1/connections/crm/credential', alice, { value: 'anything' })).status).toBe(204);

    // 85 % of the month: the notice appears once, in the agent's events (the email notifier mails this type).
    const first = await call(base, 'POST', '/v1/agents/sales/messages', alice, { text: 'spend 0.85' });
    expect(first.status).toBe(202);
    await waitForEvent(base, alice, 'sales', (e) => e.type === 'message.done' && e.messageId === first.body.messageId);
    const notice = await waitForEvent(base, alice, 'sales', (e) => e.type === 'budget.threshold', 10_000);
    expect(notice.data).toMatchObject({ scope: 'user', limitUsd: 1, spentUsd: 0.85, percent: 80 });
    const usage = await call(base, 'GET', '/v1/usage', alice);
    expect(usage.status).toBe(200);
    expect(usage.body.user).toMatchObject({ spentUsd: 0.85, limitUsd: 1, messages: 1, state: 'warning' });
    expect(usage.body.agents).toContainEqual(expect.objectContaining({ agentId: 'sales', spentUsd: 0.85 }));
    // Another user's month is their own.
    const bruno = await tokenFor(base, 'bruno');
    expect((await call(base, 'GET', '/v1/usage', bruno)).body.user).toMatchObject({ spentUsd: 0, state: 'ok' });

    // Two messages back to back while the agent is awake: the first crosses 100 % and finishes; the
    // second is accepted (the month was not used up yet) but must not start.
    const crossing = await call(base, 'POST', '/v1/agents/sales/messages', alice, { text: 'spend 0.20' });
    const queued = await call(base, 'POST', '/v1/agents/sales/messages', alice, { text: 'queued behind' });
    expect([crossing.status, queued.status]).toEqual([202, 202]);
    await waitForEvent(base, alice, 'sales', (e) => e.type === 'session.stopping' && e.data.reason === 'budget');
    let seen = await events(base, alice, 'sales');
    expect(seen.some((e) => e.type === 'message.done' && e.messageId === crossing.body.messageId)).toBe(true);
    expect(seen.some((e) => e.messageId === queued.body.messageId && e.type.startsWith('message.'))).toBe(false);
    expect(seen.filter((e) => e.type === 'budget.threshold')).toHaveLength(1);

    // A new message is refused with 402 and says why, when it resets and what was spent.
    const refused = await call(base, 'POST', '/v1/agents/sales/messages', alice, { text: 'one more' });
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ error: 'budget_exhausted', scope: 'user', limitUsd: 1, spentUsd: 1.05 });
    expect(refused.body.message).toMatch(/^the monthly budget of 1 USD for this user is used up \(1\.05 USD spent\)/);
    expect((await call(base, 'GET', '/v1/usage', alice)).body.user).toMatchObject({ state: 'exhausted' });

    // The administrator raises the limit (a deploy; here a restart with the new config): the queued
    // message runs first, then the new one.
    await running.interrupt();
    writeConfig(5);
    running = await startLocalProcess(['--port', '0', '--data', data, '--config', configFile]);
    base = running.url;
    alice = await tokenFor(base, 'alice');
    const after = await call(base, 'POST', '/v1/agents/sales/messages', alice, { text: 'after the raise' });
    expect(after.status).toBe(202);
    await waitForEvent(base, alice, 'sales', (e) => e.type === 'reply' && e.data.text === 'echo: after the raise');
    seen = await events(base, alice, 'sales');
    const queuedReply = seen.find((e) => e.type === 'reply' && e.data.text === 'echo: queued behind');
    const laterReply = seen.find((e) => e.type === 'reply' && e.data.text === 'echo: after the raise');
    expect(queuedReply).toBeDefined();
    expect(queuedReply!.seq).toBeLessThan(laterReply!.seq);
    expect((await call(base, 'GET', '/v1/usage', alice)).body.user).toMatchObject({ limitUsd: 5, state: 'ok' });
  }, 300_000);
});
