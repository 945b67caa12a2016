import * as path from 'node:path';
import { providerSpec, type CodexModelProvider, type Provider } from '../../../shared/providers';
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

/**
 * Codex CLI headless (`codex exec --json`). The container is the sandbox (Codex's own Linux sandbox
 * needs kernel features Fargate does not grant), so Codex runs with `danger-full-access` and every
 * tool call goes through the PreToolUse hook in /etc/codex/requirements.toml. Codex's hosted web
 * search cannot be hooked, so it is disabled (and pinned off in requirements.toml).
 */
export function codexAdapter(provider: Provider = 'openai'): ProviderAdapter {
  const custom = providerSpec(provider).codex;
  return {
    provider,
    command: 'codex',
    skillDirectories: (home) => [path.join(home, '.codex', 'skills')],
    args: (context: RunContext) => [
      'exec',
      '--json',
      '--skip-git-repo-check',
      '--sandbox',
      'danger-full-access',
      '-c',
      'web_search="disabled"',
      ...(custom ? customProviderArgs(custom) : []),
      // `codex exec resume <id>` or `--last` (https://developers.openai.com/codex/noninteractive).
      ...(context.resumeId ? ['resume', context.resumeId] : context.continueLatest ? ['resume', '--last'] : []),
      '-',
    ],
    env(context: RunContext) {
      const credential = context.credential;
      if (!credential) throw new Error(`${provider} needs a credential`);
      const env: Record<string, string> = { CODEX_HOME: path.join(context.home, '.codex') };
      if (custom) env[custom.envKey] = credential.value;
      else if (credential.kind === 'access-token') env.CODEX_ACCESS_TOKEN = credential.value;
      else env.CODEX_API_KEY = credential.value;
      return env;
    },
    files: () => [],
    parser: () => new CodexParser(),
  };
}

/**
 * Codex's config overrides (`-c key=value`, values in TOML) for a custom model provider: the provider's
 * table, the provider and the model. The pinned Codex accepts only the Responses wire API.
 * https://developers.openai.com/codex/config-advanced
 */
export function customProviderArgs(custom: CodexModelProvider): string[] {
  const table = `{ name = ${toml(custom.name)}, base_url = ${toml(custom.baseUrl)}, env_key = ${toml(custom.envKey)}, wire_api = "responses" }`;
  return ['-c', `model_providers.${custom.id}=${table}`, '-c', `model_provider=${toml(custom.id)}`, '-m', custom.model];
}

/** A TOML basic string (JSON's escaping is a subset TOML accepts for these values). */
const toml = (value: string) => JSON.stringify(value);

class CodexParser implements StreamParser {
  line(line: string): ParsedEvent[] {
    const event = parseJsonLine(line);
    if (!event) return [];
    const item = asRecord(event.item);
    switch (event.type) {
      case 'thread.started': {
        const id = asString(event.thread_id);
        return id ? [{ kind: 'session', id }] : [];
      }
      case 'item.started':
        if (item.type === 'command_execution')
          return [{ kind: 'tool', name: 'Bash', id: asString(item.id), input: { command: item.command } }];
        if (item.type === 'mcp_tool_call') {
          return [
            {
              kind: 'tool',
              name: `mcp__${asString(item.server) ?? 'unknown'}__${asString(item.tool) ?? 'unknown'}`,
              id: asString(item.id),
              input: item.arguments ?? {},
            },
          ];
        }
        return [];
      case 'item.completed':
        if (item.type === 'agent_message' && asString(item.text)) return [{ kind: 'reply', text: item.text as string }];
        if (item.type === 'file_change' && item.status !== 'failed' && Array.isArray(item.changes)) {
          return item.changes
            .map(asRecord)
            .filter((c) => asString(c.path))
            .map((c) => ({ kind: 'file' as const, path: c.path as string, change: asString(c.kind) ?? 'update' }));
        }
        return [];
      case 'turn.completed': {
        const u = asRecord(event.usage);
        const usage = usageFrom({ input: u.input_tokens, output: u.output_tokens, cached: u.cached_input_tokens });
        return [...(usage ? [{ kind: 'usage' as const, usage }] : []), { kind: 'result', ok: true }];
      }
      case 'turn.failed':
        return [{ kind: 'result', ok: false, error: asString(asRecord(event.error).message) ?? 'turn failed' }];
      case 'error':
        return [{ kind: 'result', ok: false, error: asString(event.message) ?? 'error' }];
      default:
        return [];
    }
  }

  end(): ParsedEvent[] {
    return [];
  }
}
