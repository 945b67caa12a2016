import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyChain } from '../../../runtime/shared/event-chain';
import { MASK } from '../../../runtime/shared/redact';
import * as h from './helpers';
import { TEST_CHAIN } from '../../support/chain-key';

const { db, dir } = h.agentTestBed();

describe('agent runtime end to end (anthropic, dynalite, real processes)', () => {
  it('takes a message in, writes events out, honours approvals and keeps secrets out of logs and rows', async () => {
    const p = h.pair('sales');
    const root = path.join(dir.root, 'e2e');
    await h.putSession(db, p);
    const env = h.agentEnv(db, p, root);
    const message = await h.sendMessage(db, p, {
      steps: [
        { say: 'working on it' },
        { tool: 'Read', input: { file_path: '/workspace/a.txt' } },
        { tool: 'WebFetch', input: { url: 'https://acme.my.salesforce.com/lead/1' } },
        { tool: 'Bash', input: { command: 'curl -s https://acme.my.salesforce.com/api' } },
        { tool: 'WebFetch', input: { url: 'https://evil.example/upload' } },
        { write: 'notes.md' },
        { printSecret: true },
        { printEnv: true },
      ],
    });
    const agent = h.spawnAgent(env);
    try {
      await agent.waitForLog('ready');
      // The control plane side: approve the first pending approval, deny the second.
      const first = await h.waitFor(async () => (await h.approvals(db, p))[0], 10_000, 'first approval');
      expect(first.tool).toBe('WebFetch');
      expect(first.hosts).toEqual(['acme.my.salesforce.com']);
      expect(first.requestId).toBe(message.requestId);
      await h.decide(db, p, first.sk, 'approved');
      const second = await h.waitFor(
        async () => (await h.approvals(db, p)).find((a) => a.sk !== first.sk),
        10_000,
        'second approval',
      );
      expect(second.tool).toBe('Bash');
      await h.decide(db, p, second.sk, 'denied');

      const done = await h.waitForEvent(db, p, (e) => e.type === 'message.done' || e.type === 'message.failed');
      expect(done.type).toBe('message.done');
      const all = await h.events(db, p);
      expect(await verifyChain(await h.storedEvents(db, p), TEST_CHAIN)).toEqual({ ok: true, length: all.length });
      const replies = all.filter((e) => e.type === 'reply').map((e) => String(e.data.text));
      expect(replies).toContain('working on it');
      expect(replies).toContain('tool Read: allowed (local tool)');
      expect(replies).toContain('tool WebFetch: allowed (approved by the employee)');
      expect(replies.some((r) => r.startsWith('tool Bash: denied (the employee denied this call'))).toBe(true);
      expect(
        replies.some((r) =>
          r.startsWith("tool WebFetch: denied (host evil.example is not in this agent's connections"),
        ),
      ).toBe(true);
      expect(all.map((e) => e.type)).toEqual(
        expect.arrayContaining([
          'session.started',
          'message.started',
          'tool.call',
          'approval.requested',
          'approval.resolved',
          'tool.denied',
          'file.written',
        ]),
      );
      expect(all.find((e) => e.type === 'file.written')?.data.path).toBe(path.join(env.CUBICLE_WORKSPACE, 'notes.md'));
      expect(existsSync(path.join(env.CUBICLE_WORKSPACE, 'notes.md'))).toBe(true);
      expect(all.filter((e) => e.type === 'approval.resolved').map((e) => e.data.status)).toEqual([
        'approved',
        'denied',
      ]);
      for (const e of all.filter((x) => x.messageId)) expect(e.requestId).toBe(message.requestId);

      // The child printed both secrets; the reply events carry the mask instead.
      expect(replies.filter((r) => r.includes(MASK)).length).toBeGreaterThanOrEqual(2);
      const rows = JSON.stringify(all);
      expect(rows).not.toContain(h.PROVIDER_SECRET);
      expect(rows).not.toContain(h.CRM_SECRET);

      // The child's environment: its credential and connection secret, none of the supervisor's AWS
      // credentials or relay URL.
      const envLine = replies.find((r) => r.startsWith('env: '))!;
      const names = envLine.slice(5).split(',');
      expect(names).toEqual(
        expect.arrayContaining(['ANTHROPIC_API_KEY', 'CUBICLE_CONNECTION_CRM_SECRET', 'CUBICLE_GUARD_SOCKET', 'HOME']),
      );
      for (const leaked of [
        'AWS_SECRET_ACCESS_KEY',
        'AWS_ACCESS_KEY_ID',
        'AWS_SESSION_TOKEN',
        'CUBICLE_RELAY_URL',
        'CUBICLE_PROVIDER_SECRET_ARN',
        'HARNESS_SECRETS',
      ])
        expect(names).not.toContain(leaked);

      // Only the agent's own skill was installed into the CLI's home.
      const skills = path.join(env.CUBICLE_WORKSPACE, '.cubicle', 'home', '.claude', 'skills');
      expect(readFileSync(path.join(skills, 'crm-notes', 'SKILL.md'), 'utf8')).toContain('CRM notes');
      expect(existsSync(path.join(skills, 'style-guide'))).toBe(false);

      // Inbox row finished, cursor moved (the frames right after message.done).
      await h.waitFor(
        async () => (await h.getInbox(db, p, message.sk))?.state === 'done' || undefined,
        5_000,
        'inbox row done',
      );
      await h.waitFor(
        async () => (await h.getSession(db, p))?.inboxCursor === message.sk || undefined,
        5_000,
        'inbox cursor',
      );
    } finally {
      agent.proc.kill('SIGTERM');
      await agent.exited;
      if (process.env.DEBUG_AGENT)
        console.log(agent.output().toString('utf8'), JSON.stringify(await h.events(db, p), null, 1));
    }
    const bytes = agent.output();
    expect(bytes.includes(Buffer.from(h.PROVIDER_SECRET))).toBe(false);
    expect(bytes.includes(Buffer.from(h.CRM_SECRET))).toBe(false);
    // Operator logs carry ids, never the message body.
    const logs = agent.logs();
    expect(logs.find((l) => l.msg === 'message started')).toMatchObject({
      user_id: 'alice',
      agent_id: 'sales',
      request_id: message.requestId,
    });
    expect(bytes.toString('utf8')).not.toContain('working on it');
  });
});
