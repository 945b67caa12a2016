/**
 * The stand-in provider CLI under the real supervisor, in each CLI's format: its stream is parsed by the
 * real adapters, and its tool calls go through the hook the image configures (placed in the CLI's home by
 * local mode), the real guard and the approval flow.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAND_IN_BIN } from '../../local/ecs/agent-process';
import { AGENT_DIST, seedHookSettings } from '../../local/provider-cli/hooks';
import { realProviderProblems } from '../../local/provider-cli/real-providers';
import { exampleConfig } from '../support/example-config';
import {
  agentEnv,
  decide,
  events,
  pair,
  putSession,
  sendMessage,
  spawnAgent,
  startDb,
  waitForEvent,
  workDir,
  type Db,
} from '../runtime/agent/helpers';

let db: Db;
const work = workDir();

beforeAll(async () => {
  db = await startDb();
});
afterAll(async () => {
  await db.close();
  work.cleanup();
});

const FORMATS = [
  { provider: 'anthropic', cli: 'claude', fetchTool: 'WebFetch' },
  { provider: 'openai', cli: 'codex', fetchTool: 'Bash' },
  { provider: 'google', cli: 'gemini', fetchTool: 'web_fetch' },
  // xAI and OpenRouter run Codex as a custom model provider: the same stream, hook and guard.
  { provider: 'xai', cli: 'codex', fetchTool: 'Bash' },
  { provider: 'openrouter', cli: 'codex', fetchTool: 'Bash' },
] as const;

describe('stand-in provider CLI', () => {
  for (const { provider, cli, fetchTool } of FORMATS) {
    it(`${provider} speaks ${cli}'s stream: echo, an approved fetch, a refused fetch, a file through the file tool`, async () => {
      const p = pair(`stand-in-${provider}`);
      const root = path.join(work.root, provider);
      mkdirSync(root, { recursive: true });
      const env = agentEnv(db, p, root, {
        CUBICLE_PROVIDER: provider,
        PATH: [STAND_IN_BIN, path.dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
      });
      const hookDir = path.join(root, 'opt');
      symlinkSync(AGENT_DIST, hookDir);
      seedHookSettings(path.join(env.CUBICLE_WORKSPACE, '.cubicle', 'home'), hookDir);
      await putSession(db, p);
      const agent = spawnAgent(env);
      await agent.waitForLog('ready');

      const message = await sendMessage(
        db,
        p,
        'hello there\nfetch https://acme.my.salesforce.com/leads\nfetch https://evil.example/x\nwrite notes.md hi',
      );
      const requested = await waitForEvent(db, p, (e) => e.type === 'approval.requested');
      expect(requested.data).toMatchObject({ tool: fetchTool, hosts: ['acme.my.salesforce.com'] });
      await decide(db, p, requested.data.approvalId as string, 'approved');
      await waitForEvent(db, p, (e) => e.type === 'message.done' && e.messageId === message.sk);

      const replies = (await events(db, p)).filter((e) => e.type === 'reply').map((e) => e.data.text);
      expect(replies).toEqual([
        'echo: hello there',
        'fetched acme.my.salesforce.com',
        'refused evil.example',
        'wrote notes.md',
      ]);
      const denied = (await events(db, p)).filter((e) => e.type === 'tool.denied');
      expect(denied.map((e) => e.data.hosts)).toEqual([['evil.example']]);

      agent.proc.kill('SIGTERM');
      expect((await agent.exited).code).toBe(0);
    });
  }

  it('refuses every tool call when no hook is configured (fails closed)', async () => {
    const p = pair('stand-in-nohook');
    const root = path.join(work.root, 'nohook');
    mkdirSync(root, { recursive: true });
    const env = agentEnv(db, p, root, {
      PATH: [STAND_IN_BIN, path.dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
    });
    await putSession(db, p);
    const agent = spawnAgent(env);
    await agent.waitForLog('ready');
    const message = await sendMessage(db, p, 'fetch https://acme.my.salesforce.com/leads');
    await waitForEvent(db, p, (e) => e.type === 'message.done' && e.messageId === message.sk);
    const all = await events(db, p);
    expect(all.filter((e) => e.type === 'reply').map((e) => e.data.text)).toEqual(['refused acme.my.salesforce.com']);
    expect(all.filter((e) => e.type === 'approval.requested')).toEqual([]);
    agent.proc.kill('SIGTERM');
    await agent.exited;
  });
});

describe('--real-providers', () => {
  it('names the agents whose CLI is not on PATH, and the bedrock agents', () => {
    const bin = path.join(work.root, 'real-bin');
    mkdirSync(bin, { recursive: true });
    for (const name of ['claude', 'gemini']) {
      writeFileSync(path.join(bin, name), '#!/bin/sh\n', { mode: 0o755 });
    }
    expect(realProviderProblems(exampleConfig(), bin)).toEqual([
      '--real-providers: codex is not on PATH; the messages of alice/finance, chen/analyst will fail',
      '--real-providers: bedrock agents (bruno/research, chen/scout) cannot reach Amazon Bedrock locally',
    ]);
  });
});
