import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as h from './helpers';

/**
 * The supervisor says "ready" before it loads what opens the inbox (the Encryption SDK and KMS, a bundle of
 * its own: runtime/agent/src/inbox-opener.ts), then loads it in the background (issue 15: start-to-ready). A
 * message that arrives first waits for the load; a failed load is tried again by the next message. The real
 * supervisor in its own process; the harness slows the load down or fails it
 * (test/runtime/agent/fixtures/harness.ts HARNESS_INBOX_OPENER).
 */
const { db, dir } = h.agentTestBed();

const order = (agent: h.AgentProcess, ...msgs: string[]) =>
  msgs.map((msg) => agent.logs().findIndex((l) => l.msg === msg));

describe('inbox opener loaded after ready', () => {
  it('is ready before the opener has loaded; a message already waiting runs once it has', async () => {
    const p = h.pair('slowopener');
    await h.putSession(db, p);
    const message = await h.sendMessage(db, p, 'waiting before the task started');
    const agent = h.spawnAgent({
      ...h.agentEnv(db, p, path.join(dir.root, 'slowopener')),
      HARNESS_INBOX_OPENER: 'slow:2000',
    });
    try {
      await agent.waitForLog('ready', 20_000);
      // Ready came first: the load had 2 s still to go, and the message is not done yet.
      expect(agent.logs().some((l) => l.msg === 'inbox opener loaded')).toBe(false);
      expect((await h.events(db, p)).some((e) => e.messageId === message.sk && e.type === 'message.done')).toBe(false);
      const loaded = await agent.waitForLog('inbox opener loaded', 20_000);
      expect(Number(loaded.load_ms)).toBeGreaterThanOrEqual(1_900);
      await h.waitForEvent(db, p, (e) => e.messageId === message.sk && e.type === 'message.done', 20_000);
      const replies = (await h.events(db, p)).filter((e) => e.type === 'reply').map((e) => String(e.data.text));
      expect(replies).toEqual(['echo: waiting before the task started']);
      const [ready, opened] = order(agent, 'ready', 'inbox opener loaded');
      expect(ready).toBeGreaterThanOrEqual(0);
      expect(opened).toBeGreaterThan(ready);
    } finally {
      agent.proc.kill('SIGTERM');
      await agent.exited;
    }
  }, 60_000);

  it('a load that fails is logged, and the next message loads the opener again and runs', async () => {
    const p = h.pair('failopener');
    await h.putSession(db, p);
    const agent = h.spawnAgent({
      ...h.agentEnv(db, p, path.join(dir.root, 'failopener')),
      HARNESS_INBOX_OPENER: 'fail-once',
    });
    try {
      await agent.waitForLog('ready', 20_000);
      const failed = await agent.waitForLog('could not load the inbox opener; the next message tries again', 20_000);
      expect(failed.level).toBe('warn');
      const message = await h.sendMessage(db, p, 'after a failed load');
      await h.waitForEvent(db, p, (e) => e.messageId === message.sk && e.type === 'message.done', 20_000);
      const replies = (await h.events(db, p)).filter((e) => e.type === 'reply').map((e) => String(e.data.text));
      expect(replies).toEqual(['echo: after a failed load']);
      expect(agent.logs().filter((l) => l.msg === 'inbox opener loaded')).toHaveLength(0); // loaded by the message
      expect(await h.isAlive(agent.proc.pid!)).toBe(true);
    } finally {
      agent.proc.kill('SIGTERM');
      await agent.exited;
    }
    expect((await agent.exited).code).toBe(0);
  }, 60_000);
});
