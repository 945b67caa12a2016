import type { Provider, ProviderCredential } from '../../../shared/provider-credentials';
import type { Usage } from '../../../shared/usage';

/** What the supervisor turns into events; adapters map each CLI's stream onto these. */
export type ParsedEvent =
  | { readonly kind: 'session'; readonly id: string }
  | { readonly kind: 'reply'; readonly text: string }
  | { readonly kind: 'tool'; readonly name: string; readonly id?: string; readonly input: unknown }
  | { readonly kind: 'file'; readonly path: string; readonly change: string }
  | { readonly kind: 'result'; readonly ok: boolean; readonly error?: string }
  | { readonly kind: 'usage'; readonly usage: Usage };

/** One run's parser: keeps state across lines (pending tool calls, partial replies). */
export interface StreamParser {
  line(line: string): ParsedEvent[];
  end(): ParsedEvent[];
}

export interface RunContext {
  /** The CLI's home, on the pair's EFS access point (it survives the task; credentials never go there). */
  readonly home: string;
  /** The persistent workspace: the CLI's working directory. */
  readonly workspace: string;
  readonly credential?: ProviderCredential;
  readonly bedrockModels: readonly string[];
  /** The supervisor's environment, for the few variables a CLI must inherit (PATH, AWS container credentials for bedrock). */
  readonly inherited: NodeJS.ProcessEnv;
  /** Provider session id from the previous message of this task, to continue the conversation. */
  readonly resumeId?: string;
  /**
   * No session id yet in this task but an earlier wake ran the CLI in this home: continue its latest
   * conversation (the CLIs keep them in the home, which the access point keeps across wakes).
   */
  readonly continueLatest?: boolean;
}

export interface FileToWrite {
  readonly path: string;
  readonly content: string;
}

export interface ProviderAdapter {
  readonly provider: Provider;
  /** Executable looked up on PATH. */
  readonly command: string;
  /** Directories (under the CLI home) where the CLI reads skills. */
  skillDirectories(home: string): string[];
  /** Arguments; the prompt goes to stdin so it never appears in the process list or hits argv limits. */
  args(context: RunContext): string[];
  /** Provider variables for the child (credentials the way the CLI expects them). */
  env(context: RunContext): Record<string, string>;
  /** Credential files the CLI can only read from disk, at their path in the home (the workbench keeps the content on ephemeral storage). */
  files(context: RunContext): FileToWrite[];
  parser(): StreamParser;
}

export function parseJsonLine(line: string): Record<string, unknown> | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(trimmed);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export const asRecord = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
export const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
