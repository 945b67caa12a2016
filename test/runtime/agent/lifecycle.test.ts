import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyChain } from '../../../runtime/shared/event-chain';
import { PROVIDERS } from '../../../runtime/shared/providers';
import { FLUSH_BUDGET_MS } from '../../../runtime/agent/src/supervisor';
import * as h from './helpers';
import { TEST_CHAIN } from '../../support/chain-key';

/**
 * Lifetime behaviour observed on real processes: the supervisor (through the harness) and the fake CLI
 * that ignores SIGTERM and leaves a grandchild that ignores it too.
 */
const { db, dir } = h.agentTestBed();

const stubborn = { steps: [{ say: 'starting a long job' }, { grandchild: true }, { sleep: 60_000 }], ignoreTerm: true };

function grandchildPid(replies: string[]): number {
  const line = replies.find((r) => r.startsWith('grandchild '));
  expect(line).toBeDefined();
  return Number(line!.split(' ')[1]);
}

async function replies(p: h.Pair): Promise<string[]> {
  return (await h.events(db, p)).filter((e) => e.type === 'reply').map((e) => String(e.data.text));
}

describe('lifetime', () => {
  it('the hard cap ends a CLI that ignores SIGTERM within cap + grace + 1 s, and its tool processes with it', async () => {
    const p = h.pair('capped');
    await h.putSession(db, p);
    const message = await h.sendMessage(db, p, stubborn);
    // Long enough for the CLI to be running when the cap hits, on a busy 2-core machine too (start-up: tsx, the
    // SDKs, the Encryption SDK, secrets, the first message opened under the user's key).
    const capMs = 6_000;
    const graceMs = 1_000;
    const agent = h.spawnAgent(
      h.agentEnv(db, p, path.join(dir.root, 'cap'), {
        CUBICLE_MAX_TASK_DURATION_MS: String(capMs),
        CUBICLE_STOP_GRACE_MS: String(graceMs),
      }),
    );
    const exit = await agent.exited;
    const lifetime = exit.at - agent.spawnedAt;
    expect(exit.code).toBe(0);
    // The last frames through the relay may take up to the flush budget after the CLI is killed.
    expect(lifetime).toBeLessThanOrEqual(capMs + graceMs + FLUSH_BUDGET_MS);
    expect(lifetime).toBeGreaterThanOrEqual(capMs);
    // The tool process the CLI started (ignoring SIGTERM too) died with the group.
    const pid = grandchildPid(await replies(p));
    await h.waitFor(() => !h.isAlive(pid) || undefined, 2_000, 'grandchild to die');

    const all = await h.events(db, p);
    expect((await verifyChain(await h.storedEvents(db, p), TEST_CHAIN)).ok).toBe(true);
    expect(all.find((e) => e.type === 'message.interrupted')?.data).toEqual({ reason: 'deadline', killed: true });
    expect(all.at(-1)?.type).toBe('session.stopping');
    expect(all.at(-1)?.data).toEqual({ reason: 'deadline' });
    expect((await h.getInbox(db, p, message.sk))?.state).toBe('interrupted');
    expect(agent.logs().find((l) => l.msg === 'stopping')).toMatchObject({ reason: 'deadline', agent_running: true });
  });

  it('ECS SIGTERM stops the CLI the same way: SIGTERM to its group, the grace, SIGKILL, exit 0', async () => {
    const p = h.pair('stopped');
    await h.putSession(db, p);
    const message = await h.sendMessage(db, p, stubborn);
    const graceMs = 800;
    const agent = h.spawnAgent(
      h.agentEnv(db, p, path.join(dir.root, 'term'), { CUBICLE_STOP_GRACE_MS: String(graceMs) }),
    );
    await h.waitFor(
      async () => (await replies(p)).some((r) => r.startsWith('grandchild')) || undefined,
      10_000,
      'grandchild',
    );
    const pid = grandchildPid(await replies(p));
    const sentAt = Date.now();
    agent.proc.kill('SIGTERM');
    const exit = await agent.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - sentAt).toBeGreaterThanOrEqual(graceMs - 50); // the CLI ignored SIGTERM: the grace ran out
    expect(exit.at - sentAt).toBeLessThanOrEqual(graceMs + FLUSH_BUDGET_MS);
    await h.waitFor(() => !h.isAlive(pid) || undefined, 2_000, 'grandchild to die');
    const all = await h.events(db, p);
    expect(all.find((e) => e.type === 'message.interrupted')?.data).toEqual({ reason: 'sigterm', killed: true });
    expect(all.at(-1)?.data).toEqual({ reason: 'sigterm' });
    expect((await h.getInbox(db, p, message.sk))?.state).toBe('interrupted');
  });

  it('a CLI that honours SIGTERM is not killed: the stop is as fast as the CLI', async () => {
    const p = h.pair('polite');
    await h.putSession(db, p);
    await h.sendMessage(db, p, { steps: [{ say: 'waiting' }, { sleep: 60_000 }] });
    const agent = h.spawnAgent(h.agentEnv(db, p, path.join(dir.root, 'polite'), { CUBICLE_STOP_GRACE_MS: '20000' }));
    await h.waitFor(async () => (await replies(p)).includes('waiting') || undefined, 10_000, 'reply');
    const sentAt = Date.now();
    agent.proc.kill('SIGTERM');
    const exit = await agent.exited;
    expect(exit.at - sentAt).toBeLessThan(3_000);
    expect((await h.events(db, p)).find((e) => e.type === 'message.interrupted')?.data).toEqual({
      reason: 'sigterm',
      killed: false,
    });
  });

  it('a stop during an approval wait closes the approval, so it can no longer be granted', async () => {
    const p = h.pair('asking');
    await h.putSession(db, p);
    await h.sendMessage(db, p, { steps: [{ tool: 'WebSearch', input: { query: 'q' } }] });
    const agent = h.spawnAgent(h.agentEnv(db, p, path.join(dir.root, 'asking')));
    const pending = await h.waitFor(async () => (await h.approvals(db, p))[0], 10_000, 'approval');
    agent.proc.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    const [row] = await h.approvals(db, p);
    expect(row.sk).toBe(pending.sk);
    expect(row.expiredAt).toBeDefined();
    await expect(h.decide(db, p, row.sk, 'approved')).rejects.toThrow(/conditional/i);
    const all = await h.events(db, p);
    expect(all.find((e) => e.type === 'approval.resolved')?.data).toMatchObject({ status: 'aborted' });
    expect(all.find((e) => e.type === 'message.interrupted')?.data).toMatchObject({ reason: 'sigterm' });
  });

  it('heartbeats the session row while a CLI run is in flight, and not while idle', async () => {
    const p = h.pair('beating');
    await h.putSession(db, p);
    await h.sendMessage(db, p, { steps: [{ say: 'thinking' }, { sleep: 1_500 }] });
    const agent = h.spawnAgent(
      h.agentEnv(db, p, path.join(dir.root, 'beat'), { CUBICLE_HEARTBEAT_INTERVAL_MS: '200' }),
    );
    try {
      await agent.waitForLog('message started');
      const seen = new Set<number>();
      while (!agent.logs().some((l) => l.msg === 'message done')) {
        const at = (await h.getSession(db, p))?.lastActivityAt;
        if (at !== undefined) seen.add(at);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(seen.size).toBeGreaterThanOrEqual(4); // ~1.5 s at 200 ms
      await new Promise((r) => setTimeout(r, 300)); // let the final beat land
      const settled = (await h.getSession(db, p))?.lastActivityAt;
      await new Promise((r) => setTimeout(r, 1_200)); // idle: six heartbeat intervals
      expect((await h.getSession(db, p))?.lastActivityAt).toBe(settled);
    } finally {
      agent.proc.kill('SIGTERM');
      await agent.exited;
    }
  });

  it('a message sent while the agent idles is pushed to it: done in seconds, though its safety re-read is 30 s away', async () => {
    const p = h.pair('pushed');
    await h.putSession(db, p);
    const agent = h.spawnAgent(h.agentEnv(db, p, path.join(dir.root, 'pushed'), { CUBICLE_POLL_INTERVAL_MS: '30000' }));
    try {
      await agent.waitForLog('ready');
      await new Promise((r) => setTimeout(r, 500)); // idle, waiting for a nudge
      const sentAt = Date.now();
      const message = await h.sendMessage(db, p, 'ping over the relay');
      const done = await h.waitForEvent(db, p, (e) => e.messageId === message.sk && e.type === 'message.done', 10_000);
      expect(done.at - sentAt).toBeLessThan(8_000);
      expect(
        (await h.events(db, p)).some((e) => e.type === 'reply' && e.data.text === 'echo: ping over the relay'),
      ).toBe(true);
    } finally {
      agent.proc.kill('SIGTERM');
      await agent.exited;
    }
  });

  it('stops itself after the idle timeout with no work', async () => {
    const p = h.pair('idle');
    await h.putSession(db, p);
    const agent = h.spawnAgent(h.agentEnv(db, p, path.join(dir.root, 'idle'), { CUBICLE_IDLE_TIMEOUT_MS: '700' }));
    const exit = await agent.exited;
    expect(exit.code).toBe(0);
    expect((await h.events(db, p)).at(-1)?.data).toEqual({ reason: 'idle' });
    expect(agent.logs().find((l) => l.msg === 'stopping')).toMatchObject({ reason: 'idle' });
  });

  it('a message left running by a crashed task is retried, and given up after the attempt limit', async () => {
    const p = h.pair('crashy');
    await h.putSession(db, p);
    const retried = await h.sendMessage(db, p, 'hello again', { state: 'running', attempts: 1 });
    const poison = await h.sendMessage(db, p, 'poison', { state: 'running', attempts: 2 });
    const agent = h.spawnAgent(h.agentEnv(db, p, path.join(dir.root, 'crash'), { CUBICLE_MAX_MESSAGE_ATTEMPTS: '2' }));
    try {
      await h.waitFor(
        async () => (await h.getInbox(db, p, poison.sk))?.state === 'failed' || undefined,
        10_000,
        'poison given up',
      );
      expect(await h.getInbox(db, p, retried.sk)).toMatchObject({ state: 'done', attempts: 2 });
      const all = await h.events(db, p);
      expect(all.find((e) => e.messageId === poison.sk && e.type === 'message.failed')?.data).toEqual({
        message: `Your agent could not finish this message. Try again; if it keeps failing, quote request id ${poison.requestId} to your platform team.`,
        requestId: poison.requestId,
      });
      expect(all.some((e) => e.type === 'reply' && e.data.text === 'echo: hello again')).toBe(true);
    } finally {
      agent.proc.kill('SIGTERM');
      await agent.exited;
    }
  });

  it('refuses to start on an invalid environment with one clear log line', async () => {
    const p = h.pair('broken');
    const agent = h.spawnAgent(
      h.agentEnv(db, p, path.join(dir.root, 'bad'), {
        CUBICLE_PROVIDER: 'not-a-provider',
        CUBICLE_MAX_TASK_DURATION_MS: undefined,
      }),
    );
    const exit = await agent.exited;
    expect(exit.code).toBe(78);
    const lines = agent
      .output()
      .toString('utf8')
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]);
    expect(line).toMatchObject({ level: 'error', msg: 'invalid environment' });
    expect(line.problems).toEqual(
      expect.arrayContaining([
        `CUBICLE_PROVIDER: unknown or missing provider; expected one of ${PROVIDERS.join(', ')}`,
        expect.stringMatching(/^CUBICLE_MAX_TASK_DURATION_MS: /),
      ]),
    );
    expect(lines[0]).not.toContain('not-a-provider');
  });

  it('fails start-up clearly when a secret cannot be read, naming the connection but not the value', async () => {
    const p = h.pair('nosecret');
    await h.putSession(db, p);
    const agent = h.spawnAgent(
      h.agentEnv(db, p, path.join(dir.root, 'nosecret'), {
        HARNESS_SECRETS: JSON.stringify({ [h.PROVIDER_ARN]: h.PROVIDER_SECRET }),
      }),
    );
    const exit = await agent.exited;
    expect(exit.code).toBe(1);
    const error = agent.logs().find((l) => l.level === 'error');
    expect(error).toMatchObject({
      msg: 'could not read secrets',
      error: { message: 'could not read the connection "crm" secret: ResourceNotFoundException' },
    });
    expect(agent.output().includes(Buffer.from(h.PROVIDER_SECRET))).toBe(false);
  });
});
