import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyChain } from '../../../runtime/shared/event-chain';
import { failedForEmployee } from '../../../runtime/agent/src/message-runner';
import * as h from './helpers';
import { TEST_CHAIN } from '../../support/chain-key';

const { db, dir } = h.agentTestBed();

const scenario = (shell: string) => ({
  steps: [
    { say: 'on it' },
    { tool: shell, input: { command: 'ls -la && grep -rn TODO .' } },
    { tool: shell, input: { command: 'curl https://acme.my.salesforce.com/x' } },
    { write: 'out.md' },
    { printSecret: true },
    { printEnv: true },
  ],
});

async function runOne(p: h.Pair, env: Record<string, string>, body: unknown) {
  const {
    messages: [message],
    agent,
    all,
  } = await h.runMessages(db, p, env, [body]);
  expect((await verifyChain(await h.storedEvents(db, p), TEST_CHAIN)).ok).toBe(true);
  const bytes = agent.output();
  for (const secret of [h.PROVIDER_SECRET, h.CRM_SECRET]) {
    expect(bytes.includes(Buffer.from(secret))).toBe(false);
    expect(JSON.stringify(all)).not.toContain(secret);
  }
  const replies = all.filter((e) => e.type === 'reply').map((e) => String(e.data.text));
  const names = (/env: ([A-Za-z0-9_,]+)/.exec(replies.join('\n'))?.[1] ?? '').split(',');
  return { all, replies, names, message, agent };
}

describe('provider adapters end to end', () => {
  it('openai: Codex stream, CODEX_API_KEY, outbound policy deny', async () => {
    const p = h.pair('finance');
    const { all, replies, names } = await runOne(
      p,
      h.agentEnv(db, p, path.join(dir.root, 'codex'), { CUBICLE_PROVIDER: 'openai', CUBICLE_OUTBOUND_POLICY: 'deny' }),
      scenario('Bash'),
    );
    expect(all.some((e) => e.type === 'message.done')).toBe(true);
    expect(replies).toContain('on it');
    expect(replies).toContain('tool Bash: allowed (local: every command in it stays on this machine)');
    expect(replies).toContain(
      "tool Bash: denied (outbound (curl opens network connections); this agent's outbound policy denies calls to the outside world)",
    );
    expect(replies).toContain('tool apply_patch: allowed (local tool)');
    // Allowed calls are on the record too: the verdict and the redacted summary, never file contents.
    expect(all.filter((e) => e.type === 'tool.allowed').map((e) => e.data)).toEqual([
      {
        tool: 'Bash',
        reason: 'local: every command in it stays on this machine',
        outbound: false,
        hosts: [],
        summary: 'Bash: ls -la && grep -rn TODO .',
      },
      {
        tool: 'apply_patch',
        reason: 'local tool',
        outbound: false,
        hosts: [],
        summary: expect.stringMatching(/^apply_patch /),
      },
    ]);
    expect(all.find((e) => e.type === 'tool.denied')?.data).toMatchObject({
      tool: 'Bash',
      hosts: ['acme.my.salesforce.com'],
      summary: 'Bash: curl https://acme.my.salesforce.com/x',
    });
    expect(all.filter((e) => e.type === 'tool.call').map((e) => e.data.tool)).toEqual(['Bash', 'Bash']);
    expect(all.find((e) => e.type === 'file.written')?.data).toMatchObject({ change: 'add' });
    expect(all.some((e) => e.type === 'approval.requested')).toBe(false);
    expect(names).toEqual(expect.arrayContaining(['CODEX_API_KEY', 'CODEX_HOME']));
    expect(names).not.toContain('ANTHROPIC_API_KEY');
  });

  it('google: Gemini stream (reply deltas joined), an oauth-creds credential written only for the run', async () => {
    const p = h.pair('writer');
    const creds = JSON.stringify({
      access_token: 'ya29.fake-access-token-aaaaaaaaaaaaaaaaaaaa',
      refresh_token: 'refresh-zz-0123456789abcdef',
    });
    const env = h.agentEnv(db, p, path.join(dir.root, 'gemini'), {
      CUBICLE_PROVIDER: 'google',
      CUBICLE_OUTBOUND_POLICY: 'allow',
      HARNESS_SECRETS: JSON.stringify({
        [h.PROVIDER_ARN]: JSON.stringify({ kind: 'oauth-creds', value: creds }),
        [h.CRM_ARN]: h.CRM_SECRET,
      }),
    });
    const { all, replies, names, agent } = await runOne(p, env, scenario('run_shell_command'));
    expect(all.some((e) => e.type === 'message.done')).toBe(true);
    // Gemini streams assistant text as deltas; consecutive ones form one reply until another event.
    expect(replies[0]).toBe('on it');
    const text = replies.join('\n');
    expect(text).toContain('tool run_shell_command: allowed'); // Gemini's allow carries no reason
    expect(text).not.toContain('tool run_shell_command: denied');
    expect(text).toContain('tool write_file: allowed');
    expect(all.find((e) => e.type === 'file.written')?.data.path).toBe(path.join(env.CUBICLE_WORKSPACE, 'out.md'));
    expect(names).toContain('GOOGLE_GENAI_USE_GCA');
    expect(names).not.toContain('GEMINI_API_KEY');
    // The credentials file existed for the run only.
    const { existsSync } = await import('node:fs');
    expect(existsSync(path.join(env.CUBICLE_WORKSPACE, '.cubicle', 'home', '.gemini', 'oauth_creds.json'))).toBe(false);
    expect(agent.output().includes(Buffer.from('refresh-zz-0123456789abcdef'))).toBe(false);
  });

  describe('bedrock: the CLI invokes the models with a session of the invoker role, never the task role', () => {
    const ROLE = 'arn:aws:iam::123456789012:role/cubicle/acme/acme-bedrock-invoker';
    const MODEL_SESSION = {
      accessKeyId: 'ASIAMODELSESSIONKEY1',
      secretAccessKey: `model-secret-${'s'.repeat(30)}`,
      sessionToken: `model-session-token-${'t'.repeat(60)}`,
    };
    const bedrockEnv = (p: h.Pair, name: string, sts: Record<string, unknown> | undefined) =>
      h.agentEnv(db, p, path.join(dir.root, name), {
        CUBICLE_PROVIDER: 'bedrock',
        CUBICLE_PROVIDER_SECRET_ARN: undefined,
        CUBICLE_BEDROCK_MODELS: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
        CUBICLE_BEDROCK_ROLE_ARN: ROLE,
        CUBICLE_CONNECTIONS: '[]',
        CUBICLE_SKILLS: '',
        HARNESS_SECRETS: '{}',
        HARNESS_STS: sts ? JSON.stringify(sts) : undefined,
        HARNESS_STS_CALLS: path.join(dir.root, `${name}-sts.jsonl`),
      });
    const stsCalls = (name: string) =>
      existsSync(path.join(dir.root, `${name}-sts.jsonl`))
        ? readFileSync(path.join(dir.root, `${name}-sts.jsonl`), 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l))
        : [];

    /** Two messages through one task; returns every event and the agent's output. */
    async function twoMessages(p: h.Pair, env: Record<string, string>) {
      const { all, agent } = await h.runMessages(db, p, env, [
        { steps: [{ say: 'hello from bedrock' }, { printEnv: true }, { printAwsKeyId: true }, { printSecret: true }] },
        { steps: [{ say: 'second' }] },
      ]);
      return { all, bytes: agent.output() };
    }

    it("hands the CLI the model session (three static variables), not the task role's keys, and keeps its secrets out of every record", async () => {
      const p = h.pair('research', 'bruno');
      const env = bedrockEnv(p, 'bedrock', { ...MODEL_SESSION, expiresInMs: 3_600_000 });
      const { all, bytes } = await twoMessages(p, env);
      expect(all.filter((e) => e.type === 'message.done')).toHaveLength(2);
      const replies = all.filter((e) => e.type === 'reply').map((e) => String(e.data.text));
      expect(replies).toContain('hello from bedrock');
      const names = (/env: ([A-Za-z0-9_,]+)/.exec(replies.join('\n'))?.[1] ?? '').split(',');
      expect(names).toEqual(
        expect.arrayContaining([
          'CLAUDE_CODE_USE_BEDROCK',
          'ANTHROPIC_MODEL',
          'ANTHROPIC_SMALL_FAST_MODEL',
          'AWS_REGION',
          'AWS_ACCESS_KEY_ID',
          'AWS_SECRET_ACCESS_KEY',
          'AWS_SESSION_TOKEN',
        ]),
      );
      expect(names).not.toContain('ANTHROPIC_API_KEY');
      expect(names.filter((n) => /CONTAINER_CREDENTIALS|METADATA|^ECS_/.test(n))).toEqual([]);
      // The session's key id, never the supervisor's (the task role's) own.
      const digest = (id: string) => createHash('sha256').update(id).digest('hex').slice(0, 16);
      expect(replies).toContain(`aws key: ${digest(MODEL_SESSION.accessKeyId)}`);
      expect(digest(MODEL_SESSION.accessKeyId)).not.toBe(digest(env.AWS_ACCESS_KEY_ID));
      // The CLI printed the session's secret and token: both are redacted before any event or log line.
      expect(replies.filter((r) => r.startsWith('my AWS_'))).toHaveLength(2);
      for (const secret of [MODEL_SESSION.secretAccessKey, MODEL_SESSION.sessionToken, env.AWS_SECRET_ACCESS_KEY]) {
        expect(JSON.stringify(all)).not.toContain(secret);
        expect(bytes.includes(Buffer.from(secret))).toBe(false);
      }
      // One AssumeRole for the task (at start; both runs reuse it: it has more than 50 minutes left), exactly so.
      expect(stsCalls('bedrock')).toEqual([
        { RoleArn: ROLE, RoleSessionName: 'bruno.research', DurationSeconds: 3600 },
      ]);
    });

    it('assumes the role again for a run when the session has less than 50 minutes left', async () => {
      const p = h.pair('scout', 'chen');
      const { all } = await twoMessages(p, bedrockEnv(p, 'short', { ...MODEL_SESSION, expiresInMs: 20 * 60_000 }));
      expect(all.filter((e) => e.type === 'message.done')).toHaveLength(2);
      expect(stsCalls('short')).toHaveLength(3); // start, then one per run
    });

    it('fails a message whose run gets no model session with the apology, and runs no CLI for it', async () => {
      const p = h.pair('refused', 'chen');
      // The session from start has under 50 minutes left, so the run asks again, and STS now refuses.
      const env = bedrockEnv(p, 'refused', { ...MODEL_SESSION, expiresInMs: 20 * 60_000, refuseAfter: 1 });
      const {
        messages: [message],
        agent,
        all,
      } = await h.runMessages(db, p, env, [{ steps: [{ say: 'never said' }] }]);
      expect(stsCalls('refused')).toHaveLength(2);
      expect(all.filter((e) => e.messageId === message.sk).map((e) => ({ type: e.type, data: e.data }))).toEqual([
        { type: 'message.failed', data: failedForEmployee(message.requestId) },
      ]);
      expect(all.some((e) => e.type === 'reply')).toBe(false);
      expect((await h.getInbox(db, p, message.sk))?.state).toBe('failed');
      expect(agent.logs().find((l) => l.msg === 'message failed: no model session')).toMatchObject({
        level: 'error',
        error: { name: 'AccessDenied' },
      });
    });

    it('stops at start with one clear line when the invoker role cannot be assumed, leaving the message for the next wake', async () => {
      const p = h.pair('denied', 'chen');
      await h.putSession(db, p);
      const message = await h.sendMessage(db, p, { steps: [{ say: 'never' }] });
      const agent = h.spawnAgent(bedrockEnv(p, 'denied', undefined));
      const exit = await agent.exited;
      expect(exit.code).toBe(1);
      expect(agent.logs().find((l) => l.level === 'error')).toMatchObject({
        msg: 'could not assume the model invoker role',
        error: { name: 'AccessDenied' },
      });
      expect(stsCalls('denied')).toHaveLength(1);
      const events = await h.events(db, p);
      expect(events.filter((e) => e.messageId === message.sk)).toEqual([]);
    });

    it('stops promptly with the same one line when the invoker role is refused while the secrets still hang', async () => {
      // The start-up steps run side by side: the refusal ends the start without waiting for Secrets Manager.
      const p = h.pair('denied-early', 'chen');
      await h.putSession(db, p);
      const agent = h.spawnAgent({ ...bedrockEnv(p, 'denied-early', undefined), HARNESS_SECRETS_DELAY_MS: '600000' });
      const exit = await agent.exited;
      expect(exit.code).toBe(1);
      expect(exit.at - agent.spawnedAt).toBeLessThan(15_000);
      expect(agent.logs().filter((l) => l.level === 'error')).toEqual([
        expect.objectContaining({
          msg: 'could not assume the model invoker role',
          error: expect.objectContaining({ name: 'AccessDenied' }),
        }),
      ]);
      expect(stsCalls('denied-early')).toHaveLength(1);
    });
  });

  it('anthropic: an approval nobody answers expires, the call is refused and the message still completes', async () => {
    const p = h.pair('waiting');
    const { all, replies } = await runOne(
      p,
      h.agentEnv(db, p, path.join(dir.root, 'timeout'), { CUBICLE_APPROVAL_TIMEOUT_MS: '600' }),
      { steps: [{ tool: 'WebSearch', input: { query: 'acme quarterly results' } }, { say: 'carrying on' }] },
    );
    expect(replies).toContain('tool WebSearch: denied (no approval arrived in time; the call was not made)');
    expect(replies).toContain('carrying on');
    expect(all.find((e) => e.type === 'approval.resolved')?.data).toMatchObject({ status: 'expired' });
    const [row] = await h.approvals(db, p);
    expect(row.expiredAt).toBeGreaterThanOrEqual(row.expiresAt);
    expect(row.decision).toBeUndefined();
    // The control plane can no longer approve it.
    await expect(h.decide(db, p, row.sk, 'approved')).rejects.toThrow(/conditional/i);
  });

  it('a failing CLI run: the employee reads a plain message with the request id, the operator log has the redacted detail', async () => {
    const p = h.pair('failing');
    const { all, agent, message } = await runOne(p, h.agentEnv(db, p, path.join(dir.root, 'fail')), {
      steps: [{ printSecret: true }],
      fail: true,
      exit: 3,
    });
    const failed = all.find((e) => e.type === 'message.failed');
    expect(failed?.data).toEqual({
      message: `Your agent could not finish this message. Try again; if it keeps failing, quote request id ${message.requestId} to your platform team.`,
      requestId: message.requestId,
    });
    // Nothing of the CLI's output reaches the employee in the failure...
    expect(JSON.stringify(failed)).not.toMatch(/stderr|debug|ANTHROPIC_API_KEY|error_during_execution|exitCode/);
    // ...it is in the operator log, redacted.
    const line = agent.logs().find((l) => l.msg === 'message failed');
    expect(line).toMatchObject({ exit_code: 3, cli_error: 'error_during_execution', request_id: message.requestId });
    expect(String(line?.stderr_tail)).toContain('debug: ANTHROPIC_API_KEY=[REDACTED]');
  });
});
