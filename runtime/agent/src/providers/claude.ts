import * as path from 'node:path';
import { usageFrom } from '../../../shared/usage';
import {
  asRecord,
  asString,
  parseJsonLine,
  type ParsedEvent,
  type ProviderAdapter,
  type RunContext,
  type StreamParser,
} from './types';

const WRITE_TOOLS = new Set(['Write', 'Edit', 'MultiEdit', 'NotebookEdit']);

/** Claude Code headless (`claude -p --output-format stream-json --verbose`), also used for Bedrock. */
export function claudeAdapter(provider: 'anthropic' | 'bedrock'): ProviderAdapter {
  return {
    provider,
    command: 'claude',
    skillDirectories: (home) => [path.join(home, '.claude', 'skills')],
    args: (context: RunContext) => [
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      // https://code.claude.com/docs/en/cli-reference: --resume <id>, --continue (latest in this directory).
      ...(context.resumeId ? ['--resume', context.resumeId] : context.continueLatest ? ['--continue'] : []),
    ],
    env(context: RunContext) {
      // No autoupdater, telemetry or error reporting: the task's egress is for the model and approved tools.
      const env: Record<string, string> = { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1' };
      if (provider === 'bedrock') {
        const [main, small] = context.bedrockModels;
        env.CLAUDE_CODE_USE_BEDROCK = '1';
        env.ANTHROPIC_MODEL = main;
        // Claude Code uses a second, small model for background work; keep it inside the allowed list.
        env.ANTHROPIC_SMALL_FAST_MODEL = small ?? main;
        env.ANTHROPIC_DEFAULT_HAIKU_MODEL = small ?? main;
        // Only the region: the CLI never receives the task role's credentials endpoint (the workbench drops
        // every identity variable, runtime/agent/src/workbench-protocol.ts).
        for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION']) {
          const value = context.inherited[name];
          if (value) env[name] = value;
        }
        return env;
      }
      const credential = context.credential;
      if (!credential) throw new Error('anthropic needs a credential');
      if (credential.kind === 'oauth-token') env.CLAUDE_CODE_OAUTH_TOKEN = credential.value;
      else env.ANTHROPIC_API_KEY = credential.value;
      return env;
    },
    files: () => [],
    parser: () => new ClaudeParser(),
  };
}

class ClaudeParser implements StreamParser {
  private readonly pendingWrites = new Map<string, { path: string; change: string }>();

  line(line: string): ParsedEvent[] {
    const event = parseJsonLine(line);
    if (!event) return [];
    const out: ParsedEvent[] = [];
    switch (event.type) {
      case 'system': {
        const id = asString(event.session_id);
        if (event.subtype === 'init' && id) out.push({ kind: 'session', id });
        break;
      }
      case 'assistant': {
        for (const block of contentBlocks(event)) {
          if (block.type === 'text' && asString(block.text)) out.push({ kind: 'reply', text: block.text as string });
          if (block.type === 'tool_use') {
            const name = asString(block.name) ?? 'unknown';
            const id = asString(block.id);
            const input = block.input ?? {};
            out.push({ kind: 'tool', name, id, input });
            const file = asString(asRecord(input).file_path) ?? asString(asRecord(input).notebook_path);
            if (WRITE_TOOLS.has(name) && id && file)
              this.pendingWrites.set(id, { path: file, change: name === 'Write' ? 'write' : 'edit' });
          }
        }
        break;
      }
      case 'user': {
        for (const block of contentBlocks(event)) {
          if (block.type !== 'tool_result') continue;
          const id = asString(block.tool_use_id);
          const write = id ? this.pendingWrites.get(id) : undefined;
          if (id && write) {
            this.pendingWrites.delete(id);
            if (block.is_error !== true) out.push({ kind: 'file', path: write.path, change: write.change });
          }
        }
        break;
      }
      case 'result': {
        const ok = event.is_error !== true && (event.subtype === undefined || event.subtype === 'success');
        const u = asRecord(event.usage);
        const cached =
          (typeof u.cache_read_input_tokens === 'number' ? u.cache_read_input_tokens : 0) +
          (typeof u.cache_creation_input_tokens === 'number' ? u.cache_creation_input_tokens : 0);
        const usage = usageFrom({
          input: u.input_tokens,
          output: u.output_tokens,
          cached,
          costUsd: event.total_cost_usd,
        });
        if (usage) out.push({ kind: 'usage', usage });
        out.push({ kind: 'result', ok, ...(ok ? {} : { error: asString(event.subtype) ?? 'error' }) });
        break;
      }
    }
    return out;
  }

  end(): ParsedEvent[] {
    return [];
  }
}

function contentBlocks(event: Record<string, unknown>): Record<string, unknown>[] {
  const content = asRecord(event.message).content;
  return Array.isArray(content) ? content.map(asRecord) : [];
}
