import { describe, expect, it } from 'vitest';
import { adapterFor } from '../../../runtime/agent/src/providers';
import type { ParsedEvent, ProviderAdapter, RunContext } from '../../../runtime/agent/src/providers/types';

function parse(adapter: ProviderAdapter, lines: unknown[]): ParsedEvent[] {
  const parser = adapter.parser();
  return [...lines.flatMap((l) => parser.line(typeof l === 'string' ? l : JSON.stringify(l))), ...parser.end()];
}

const ctx = (over: Partial<RunContext> = {}): RunContext => ({
  home: '/tmp/cubicle/home',
  workspace: '/workspace',
  bedrockModels: [],
  inherited: {
    PATH: '/usr/bin',
    AWS_REGION: 'eu-west-1',
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/abc',
    AWS_SECRET_ACCESS_KEY: 'nope',
  },
  ...over,
});

describe('Claude Code adapter', () => {
  const claude = adapterFor('anthropic');
  it('parses stream-json: session, replies, tool calls, files written only when the tool succeeded', () => {
    const events = parse(claude, [
      { type: 'system', subtype: 'init', session_id: 's-1', tools: ['Read'] },
      {
        type: 'assistant',
        message: {
          content: [
            { type: 'text', text: 'Let me look.' },
            { type: 'tool_use', id: 'tu1', name: 'Write', input: { file_path: '/workspace/a.md', content: 'x' } },
          ],
        },
      },
      { type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 'tu1', content: 'ok' }] } },
      {
        type: 'assistant',
        message: { content: [{ type: 'tool_use', id: 'tu2', name: 'Edit', input: { file_path: '/workspace/b.md' } }] },
      },
      {
        type: 'user',
        message: { content: [{ type: 'tool_result', tool_use_id: 'tu2', is_error: true, content: 'denied' }] },
      },
      'not json at all',
      { type: 'result', subtype: 'success', is_error: false, result: 'Done.', session_id: 's-1' },
    ]);
    expect(events).toEqual([
      { kind: 'session', id: 's-1' },
      { kind: 'reply', text: 'Let me look.' },
      { kind: 'tool', name: 'Write', id: 'tu1', input: { file_path: '/workspace/a.md', content: 'x' } },
      { kind: 'file', path: '/workspace/a.md', change: 'write' },
      { kind: 'tool', name: 'Edit', id: 'tu2', input: { file_path: '/workspace/b.md' } },
      { kind: 'result', ok: true },
    ]);
    expect(parse(claude, [{ type: 'result', subtype: 'error_max_turns', is_error: true }])).toEqual([
      { kind: 'result', ok: false, error: 'error_max_turns' },
    ]);
  });

  it('puts the API key or the subscription token where Claude Code reads them; the prompt goes to stdin', () => {
    expect(claude.env(ctx({ credential: { kind: 'api-key', value: 'k' } }))).toMatchObject({ ANTHROPIC_API_KEY: 'k' });
    const oauth = claude.env(ctx({ credential: { kind: 'oauth-token', value: 't' } }));
    expect(oauth).toMatchObject({ CLAUDE_CODE_OAUTH_TOKEN: 't', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' });
    expect(oauth).not.toHaveProperty('ANTHROPIC_API_KEY');
    expect(claude.args(ctx())).toEqual(['-p', '--output-format', 'stream-json', '--verbose']);
    expect(claude.args(ctx({ resumeId: 's-1' }))).toEqual([
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--resume',
      's-1',
    ]);
    // A new wake over a kept home: the latest conversation; an id of this task wins over it.
    expect(claude.args(ctx({ continueLatest: true }))).toEqual([
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--continue',
    ]);
    expect(claude.args(ctx({ resumeId: 's-1', continueLatest: true }))).toEqual([
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--resume',
      's-1',
    ]);
  });

  it('bedrock: the configured models only, and never the task role (its container-credentials URI stays with the supervisor)', () => {
    const bedrock = adapterFor('bedrock');
    const env = bedrock.env(ctx({ bedrockModels: ['us.anthropic.claude-sonnet-4-5-20250929-v1:0'] }));
    expect(env).toEqual({
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      CLAUDE_CODE_USE_BEDROCK: '1',
      ANTHROPIC_MODEL: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      ANTHROPIC_SMALL_FAST_MODEL: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      ANTHROPIC_DEFAULT_HAIKU_MODEL: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      AWS_REGION: 'eu-west-1',
    });
    expect(bedrock.env(ctx({ bedrockModels: ['big', 'small'] }))).toMatchObject({
      ANTHROPIC_MODEL: 'big',
      ANTHROPIC_SMALL_FAST_MODEL: 'small',
    });
  });
});

describe('Codex adapter', () => {
  const codex = adapterFor('openai');
  it('parses exec --json: thread, commands, MCP calls, messages, file changes, turn results', () => {
    const events = parse(codex, [
      { type: 'thread.started', thread_id: 'th-1' },
      { type: 'turn.started' },
      {
        type: 'item.started',
        item: { id: 'i1', type: 'command_execution', command: 'bash -lc ls', status: 'in_progress' },
      },
      {
        type: 'item.completed',
        item: { id: 'i1', type: 'command_execution', command: 'bash -lc ls', exit_code: 0, status: 'completed' },
      },
      {
        type: 'item.started',
        item: {
          id: 'i2',
          type: 'mcp_tool_call',
          server: 'crm',
          tool: 'find',
          arguments: { q: 'x' },
          status: 'in_progress',
        },
      },
      { type: 'item.completed', item: { id: 'i3', type: 'reasoning', text: 'thinking' } },
      {
        type: 'item.completed',
        item: {
          id: 'i4',
          type: 'file_change',
          changes: [
            { path: '/workspace/a', kind: 'add' },
            { path: '/workspace/b', kind: 'update' },
          ],
          status: 'completed',
        },
      },
      {
        type: 'item.completed',
        item: { id: 'i5', type: 'file_change', changes: [{ path: '/workspace/c', kind: 'add' }], status: 'failed' },
      },
      { type: 'item.completed', item: { id: 'i6', type: 'agent_message', text: 'All done.' } },
      { type: 'turn.completed', usage: { input_tokens: 1, cached_input_tokens: 0, output_tokens: 1 } },
    ]);
    expect(events).toEqual([
      { kind: 'session', id: 'th-1' },
      { kind: 'tool', name: 'Bash', id: 'i1', input: { command: 'bash -lc ls' } },
      { kind: 'tool', name: 'mcp__crm__find', id: 'i2', input: { q: 'x' } },
      { kind: 'file', path: '/workspace/a', change: 'add' },
      { kind: 'file', path: '/workspace/b', change: 'update' },
      { kind: 'reply', text: 'All done.' },
      { kind: 'usage', usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0 } },
      { kind: 'result', ok: true },
    ]);
    expect(parse(codex, [{ type: 'turn.failed', error: { message: 'quota' } }])).toEqual([
      { kind: 'result', ok: false, error: 'quota' },
    ]);
  });

  it('uses CODEX_API_KEY or CODEX_ACCESS_TOKEN, its own CODEX_HOME, no hosted web search, prompt on stdin', () => {
    expect(codex.env(ctx({ credential: { kind: 'api-key', value: 'k' } }))).toEqual({
      CODEX_HOME: '/tmp/cubicle/home/.codex',
      CODEX_API_KEY: 'k',
    });
    expect(codex.env(ctx({ credential: { kind: 'access-token', value: 't' } }))).toEqual({
      CODEX_HOME: '/tmp/cubicle/home/.codex',
      CODEX_ACCESS_TOKEN: 't',
    });
    const args = codex.args(ctx({ resumeId: 'th-1' }));
    expect(args).toEqual([
      'exec',
      '--json',
      '--skip-git-repo-check',
      '--sandbox',
      'danger-full-access',
      '-c',
      'web_search="disabled"',
      'resume',
      'th-1',
      '-',
    ]);
    expect(codex.args(ctx({ continueLatest: true }))).toEqual([
      'exec',
      '--json',
      '--skip-git-repo-check',
      '--sandbox',
      'danger-full-access',
      '-c',
      'web_search="disabled"',
      'resume',
      '--last',
      '-',
    ]);
  });
});

describe('Gemini CLI adapter', () => {
  const gemini = adapterFor('google');
  it('parses stream-json: joins assistant deltas, tool use and results, files, result', () => {
    const events = parse(gemini, [
      { type: 'init', timestamp: 't', session_id: 'g-1', model: 'gemini-2.5-pro' },
      { type: 'message', role: 'user', content: 'hi' },
      { type: 'message', role: 'assistant', content: 'Hel', delta: true },
      { type: 'message', role: 'assistant', content: 'lo.', delta: true },
      {
        type: 'tool_use',
        tool_name: 'write_file',
        tool_id: 'w1',
        parameters: { file_path: '/workspace/x.md', content: 'x' },
      },
      { type: 'tool_result', tool_id: 'w1', status: 'success', output: '' },
      { type: 'message', role: 'assistant', content: 'Saved.', delta: true },
      { type: 'result', status: 'success', stats: {} },
    ]);
    expect(events).toEqual([
      { kind: 'session', id: 'g-1' },
      { kind: 'reply', text: 'Hello.' },
      { kind: 'tool', name: 'write_file', id: 'w1', input: { file_path: '/workspace/x.md', content: 'x' } },
      { kind: 'file', path: '/workspace/x.md', change: 'write' },
      { kind: 'reply', text: 'Saved.' },
      { kind: 'result', ok: true },
    ]);
  });

  it('API key in GEMINI_API_KEY; Login-with-Google credentials as a file the workbench keeps on ephemeral storage', () => {
    expect(gemini.env(ctx({ credential: { kind: 'api-key', value: 'AIza-k' } }))).toEqual({ GEMINI_API_KEY: 'AIza-k' });
    expect(gemini.files(ctx({ credential: { kind: 'api-key', value: 'AIza-k' } }))).toEqual([]);
    const oauth = ctx({ credential: { kind: 'oauth-creds', value: '{"refresh_token":"r"}' } });
    expect(gemini.env(oauth)).toEqual({ GOOGLE_GENAI_USE_GCA: 'true' });
    expect(gemini.files(oauth)).toEqual([
      { path: '/tmp/cubicle/home/.gemini/oauth_creds.json', content: '{"refresh_token":"r"}' },
    ]);
    expect(gemini.args(ctx())).toEqual(['--output-format', 'stream-json', '--approval-mode', 'yolo']);
    expect(gemini.args(ctx({ resumeId: 'g-1' }))).toEqual([
      '--output-format',
      'stream-json',
      '--approval-mode',
      'yolo',
      '--resume',
      'g-1',
    ]);
    expect(gemini.args(ctx({ continueLatest: true }))).toEqual([
      '--output-format',
      'stream-json',
      '--approval-mode',
      'yolo',
      '--resume',
      'latest',
    ]);
  });
});

describe('usage each CLI reports', () => {
  const usageOf = (events: ParsedEvent[]) => events.filter((e) => e.kind === 'usage');
  it('Claude Code: tokens (cache reads and writes as cached input) and the printed cost', () => {
    const events = parse(adapterFor('anthropic'), [
      {
        type: 'result',
        subtype: 'success',
        is_error: false,
        total_cost_usd: 0.0125,
        usage: { input_tokens: 120, output_tokens: 34, cache_read_input_tokens: 5, cache_creation_input_tokens: 1 },
      },
    ]);
    expect(events).toEqual([
      { kind: 'usage', usage: { inputTokens: 120, outputTokens: 34, cachedInputTokens: 6, costUsd: 0.0125 } },
      { kind: 'result', ok: true },
    ]);
  });
  it('Codex: tokens from turn.completed, no cost', () => {
    expect(
      usageOf(
        parse(adapterFor('openai'), [
          { type: 'turn.completed', usage: { input_tokens: 120, cached_input_tokens: 6, output_tokens: 34 } },
        ]),
      ),
    ).toEqual([{ kind: 'usage', usage: { inputTokens: 120, outputTokens: 34, cachedInputTokens: 6 } }]);
  });
  it('Gemini CLI: tokens from the result stats, no cost', () => {
    expect(
      usageOf(
        parse(adapterFor('google'), [
          {
            type: 'result',
            status: 'success',
            stats: { total_tokens: 154, input_tokens: 120, output_tokens: 34, cached: 6 },
          },
        ]),
      ),
    ).toEqual([{ kind: 'usage', usage: { inputTokens: 120, outputTokens: 34, cachedInputTokens: 6 } }]);
  });
  it('no usage fields, no usage event; nonsense numbers count as 0 and a bad cost is dropped', () => {
    expect(usageOf(parse(adapterFor('google'), [{ type: 'result', status: 'success', stats: {} }]))).toEqual([]);
    expect(
      usageOf(
        parse(adapterFor('anthropic'), [
          { type: 'result', subtype: 'success', total_cost_usd: -1, usage: { input_tokens: 'x', output_tokens: 3 } },
        ]),
      ),
    ).toEqual([{ kind: 'usage', usage: { inputTokens: 0, outputTokens: 3, cachedInputTokens: 0 } }]);
  });
});

describe('provider selection', () => {
  it('an unknown provider is a clear error', () => {
    expect(() => adapterFor('not-a-provider' as never)).toThrow('unknown provider "not-a-provider"');
  });
});
