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

const WRITE_TOOLS = new Set(['write_file', 'replace', 'edit']);

/**
 * Gemini CLI headless (`gemini --output-format stream-json`, prompt on stdin). `--approval-mode yolo`
 * because nobody can answer its prompts; the BeforeTool hook in /etc/gemini-cli/settings.json is the gate.
 */
export function geminiAdapter(): ProviderAdapter {
  return {
    provider: 'google',
    command: 'gemini',
    skillDirectories: (home) => [path.join(home, '.gemini', 'skills')],
    // `--resume <id>` or `--resume latest`: sessions are kept under ~/.gemini/tmp/<project>/chats
    // (https://geminicli.com/docs/cli/session-management; in the pinned 0.61).
    args: (context: RunContext) => [
      '--output-format',
      'stream-json',
      '--approval-mode',
      'yolo',
      ...(context.resumeId ? ['--resume', context.resumeId] : context.continueLatest ? ['--resume', 'latest'] : []),
    ],
    env(context: RunContext): Record<string, string> {
      const credential = context.credential;
      if (!credential) throw new Error('google needs a credential');
      if (credential.kind === 'oauth-creds') return { GOOGLE_GENAI_USE_GCA: 'true' };
      return { GEMINI_API_KEY: credential.value };
    },
    files(context: RunContext) {
      // "Login with Google" credentials are only read from this file; its content stays in the task's /tmp.
      const credential = context.credential;
      return credential?.kind === 'oauth-creds'
        ? [{ path: path.join(context.home, '.gemini', 'oauth_creds.json'), content: credential.value }]
        : [];
    },
    parser: () => new GeminiParser(),
  };
}

class GeminiParser implements StreamParser {
  private reply = '';
  private readonly pendingWrites = new Map<string, string>();

  line(line: string): ParsedEvent[] {
    const event = parseJsonLine(line);
    if (!event) return [];
    if (event.type === 'message') {
      if (event.role === 'assistant' && asString(event.content)) {
        this.reply += event.content as string;
        if (event.delta !== true) return this.flush();
      }
      return [];
    }
    const out = this.flush();
    switch (event.type) {
      case 'init': {
        const id = asString(event.session_id) ?? asString(event.sessionId);
        if (id) out.push({ kind: 'session', id });
        break;
      }
      case 'tool_use': {
        const name = asString(event.tool_name) ?? 'unknown';
        const id = asString(event.tool_id);
        const input = event.parameters ?? {};
        out.push({ kind: 'tool', name, id, input });
        const file = asString(asRecord(input).file_path) ?? asString(asRecord(input).absolute_path);
        if (WRITE_TOOLS.has(name) && id && file) this.pendingWrites.set(id, file);
        break;
      }
      case 'tool_result': {
        const id = asString(event.tool_id);
        const file = id ? this.pendingWrites.get(id) : undefined;
        if (id && file) {
          this.pendingWrites.delete(id);
          if (event.status === 'success') out.push({ kind: 'file', path: file, change: 'write' });
        }
        break;
      }
      case 'result': {
        const ok = event.status === 'success';
        const stats = asRecord(event.stats);
        const usage = usageFrom({ input: stats.input_tokens, output: stats.output_tokens, cached: stats.cached });
        if (usage) out.push({ kind: 'usage', usage });
        out.push({ kind: 'result', ok, ...(ok ? {} : { error: asString(asRecord(event.error).message) ?? 'error' }) });
        break;
      }
    }
    return out;
  }

  end(): ParsedEvent[] {
    return this.flush();
  }

  private flush(): ParsedEvent[] {
    if (!this.reply) return [];
    const text = this.reply;
    this.reply = '';
    return [{ kind: 'reply', text }];
  }
}
