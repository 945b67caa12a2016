/**
 * The control-plane functions as local mode runs them: the same handler entries
 * (runtime/control-plane/handlers/<name>.ts), each in its own process with the environment its Lambda
 * function gets. Which variables each function gets is read from the schemas the handlers validate
 * (runtime/control-plane/env.ts and handlers/origin.ts), so a variable cannot be missing locally.
 */
import * as path from 'node:path';
import { TOKEN_ENV_SCHEMA } from '../../runtime/control-plane/auth';
import { API_ENV, CREDENTIALS_ENV, LAUNCHER_ENV, LIFECYCLE_ENV } from '../../runtime/control-plane/env';
import type { EnvSchema, Rule } from '../../runtime/control-plane/env-rules';
import { ORIGIN_ENV } from '../../runtime/control-plane/handlers/origin';
import type { FunctionName } from '../aws/principals';

export const HANDLERS_DIR = path.join(__dirname, '..', '..', 'runtime', 'control-plane', 'handlers');

export interface LocalFunction {
  /** Lambda timeout (lib/constructs/cubicle-function.ts default 30 s; the reaper's REAPER_TIMEOUT). */
  readonly timeoutMs: number;
  /** The schemas of the variables the handler reads at cold start. */
  readonly env: readonly EnvSchema<Readonly<Record<string, Rule<unknown>>>>[];
}

/** How often the reaper runs (the stack's schedule: `rate(1 minute)`). */
export const REAPER_INTERVAL_MS = 60_000;

export const LOCAL_FUNCTIONS: Readonly<Record<FunctionName, LocalFunction>> = {
  api: { timeoutMs: 30_000, env: [API_ENV, ORIGIN_ENV, TOKEN_ENV_SCHEMA] },
  credentials: { timeoutMs: 30_000, env: [CREDENTIALS_ENV, ORIGIN_ENV, TOKEN_ENV_SCHEMA] },
  'task-events': { timeoutMs: 30_000, env: [LIFECYCLE_ENV] },
  reaper: { timeoutMs: 55_000, env: [LIFECYCLE_ENV] },
  launcher: { timeoutMs: 30_000, env: [LAUNCHER_ENV] },
};

/** The variables of one function, picked from every value local mode knows. */
export function functionEnvironment(
  name: FunctionName,
  values: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const schema of LOCAL_FUNCTIONS[name].env) {
    for (const key of Object.keys(schema.shape)) {
      const value = values[key];
      if (value === undefined) throw new Error(`local mode has no value for ${key} (function ${name})`);
      env[key] = value;
    }
  }
  return env;
}
