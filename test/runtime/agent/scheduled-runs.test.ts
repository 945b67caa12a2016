import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as h from './helpers';

/**
 * Scheduled messages on real processes: the supervisor applies the row's unattended policy (never an
 * approval) and stops the CLI at the schedule's run cap, then goes on with the next message.
 */
// A stopped agent's last requests may still be in dynalite's hands.
const { db, dir } = h.agentTestBed({ settleMs: 500 });

describe('scheduled messages in the agent', () => {
  it('outbound deny: the call that would need an approval is refused at once, no approval is created', async () => {
    const p = h.pair('nightly');
    await h.putSession(db, p);
    await h.sendMessage(
      db,
      p,
      { steps: [{ tool: 'WebSearch', input: { query: 'q' } }] },
      { schedule: { key: 'alice/nightly/report', outbound: 'deny', maxRunMs: 60_000 } },
    );
    const agent = h.spawnAgent(h.agentEnv(db, p, path.join(dir.root, 'nightly')));
    try {
      const denied = await h.waitForEvent(db, p, (e) => e.type === 'tool.denied');
      expect(String(denied.data.reason)).toMatch(/scheduled run may not reach the outside world/);
      await h.waitForEvent(db, p, (e) => e.type === 'message.done' || e.type === 'message.failed');
      expect(await h.approvals(db, p)).toEqual([]);
      const started = (await h.events(db, p)).find((e) => e.type === 'message.started');
      expect(started?.data).toMatchObject({ scheduleId: 'alice/nightly/report' });
    } finally {
      agent.proc.kill('SIGTERM');
      await agent.exited;
    }
  });

  it('the run cap stops a CLI that runs too long (message interrupted), and the agent takes the next message', async () => {
    const p = h.pair('capped-run');
    await h.putSession(db, p);
    const long = await h.sendMessage(
      db,
      p,
      { steps: [{ say: 'working' }, { sleep: 60_000 }], ignoreTerm: true },
      { schedule: { key: 'alice/capped-run/s', outbound: 'deny', maxRunMs: 4_000 } },
    );
    const agent = h.spawnAgent(h.agentEnv(db, p, path.join(dir.root, 'capped-run'), { CUBICLE_STOP_GRACE_MS: '1000' }));
    try {
      const interrupted = await h.waitForEvent(db, p, (e) => e.type === 'message.interrupted', 30_000);
      expect(interrupted.data).toMatchObject({ reason: 'the scheduled run reached its time cap (4 s)', killed: true });
      // The row's state follows the event (the relay's finish, then the cursor).
      await h.waitFor(
        async () => (await h.getInbox(db, p, long.sk))?.state === 'interrupted' || undefined,
        10_000,
        'inbox row interrupted',
      );
      await h.sendMessage(db, p, { steps: [{ say: 'next one' }] });
      await h.waitForEvent(db, p, (e) => e.type === 'reply' && e.data.text === 'next one', 30_000);
    } finally {
      agent.proc.kill('SIGTERM');
      await agent.exited;
    }
  });
});
