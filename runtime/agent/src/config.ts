import {
  AGENT_ENV_SCHEMA,
  AGENT_TUNING_SCHEMA,
  agentEnvProblems,
  type AgentEnv,
  type AgentTuning,
} from '../../shared/agent-env';
import { PROVIDERS } from '../../shared/providers';
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

// zod/mini ships no messages: the English ones (~5 KB) make problems read "Too small: expected number to be >0",
// not "Invalid input".
z.config(en());

/** The agent runtime's configuration, read from its container environment (not the roster's per-agent config). */
export interface RuntimeConfig {
  readonly env: AgentEnv;
  readonly tuning: AgentTuning;
  readonly skills: string[];
  readonly bedrockModels: string[];
}

export type ConfigResult = { ok: true; config: RuntimeConfig } | { ok: false; problems: string[] };

/**
 * Validates the container environment. Problems name variables and rules, never values (the
 * environment holds no secrets, but a misplaced one must not be echoed into the log either).
 */
export function loadConfig(source: NodeJS.ProcessEnv): ConfigResult {
  const problems: string[] = [];
  const env = AGENT_ENV_SCHEMA.safeParse(source);
  if (!env.success) {
    for (const issue of env.error.issues) {
      const name = issue.path.join('.') || '(environment)';
      problems.push(
        name === 'CUBICLE_PROVIDER'
          ? `${name}: unknown or missing provider; expected one of ${PROVIDERS.join(', ')}`
          : `${name}: ${issue.message}`,
      );
    }
  }
  const tuning = AGENT_TUNING_SCHEMA.safeParse(source);
  if (!tuning.success)
    for (const issue of tuning.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  if (env.success) problems.push(...agentEnvProblems(env.data));
  if (problems.length > 0 || !env.success || !tuning.success) return { ok: false, problems };

  const list = (text: string | undefined) =>
    (text ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  return {
    ok: true,
    config: {
      env: env.data,
      tuning: tuning.data,
      skills: list(env.data.CUBICLE_SKILLS),
      bedrockModels: list(env.data.CUBICLE_BEDROCK_MODELS),
    },
  };
}
