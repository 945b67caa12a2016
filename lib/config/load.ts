import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import type { core } from 'zod';
import { configSchema, CubicleConfig } from './schema';
import { ConfigProblem, crossCheck } from './cross-checks';

/** The bundled example roster, synthesized when `-c config=PATH` is not given. */
export const DEFAULT_CONFIG_PATH = 'config/example.yaml';

/** A config file with problems: every problem of the file, one line each. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n` +
        problems.map((p) => `  ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** The validated config plus where it came from (the fleet's shard lock file lives beside it). */
export interface LoadedConfig extends CubicleConfig {
  /** Absolute path of the config file; undefined when parsed from a string in tests. */
  readonly sourceFile?: string;
}

export function loadConfigFile(file: string): LoadedConfig {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError(file, [{ path: '', message: `cannot read config: ${reason}` }]);
  }
  return { ...parseConfigText(text, file), sourceFile: absolute };
}

/** Parses and validates YAML text; throws ConfigError listing every problem. */
export function parseConfigText(text: string, sourceName = 'config'): CubicleConfig {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      sourceName,
      doc.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '',
        message: `YAML syntax: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) {
    throw new ConfigError(sourceName, [{ path: '', message: 'the file is empty' }]);
  }
  const result = configSchema.safeParse(raw, { reportInput: true });
  const problems = [...(result.success ? [] : result.error.issues.map(toProblem)), ...crossCheck(raw)];
  if (problems.length > 0 || !result.success) throw new ConfigError(sourceName, dedupe(problems));
  return result.data;
}

export function formatPath(segments: readonly PropertyKey[]): string {
  return segments
    .map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? String(s) : `.${String(s)}`))
    .join('');
}

function toProblem(issue: core.$ZodIssue): ConfigProblem {
  const where = formatPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return {
        path: where,
        message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`,
      };
    case 'invalid_type':
      if (issue.input === undefined) return { path: where, message: 'is required' };
      return {
        path: where,
        message:
          `must be ${article(issue.expected)}, got ${describe(issue.input)}` +
          (issue.expected === 'string' && typeof issue.input === 'number' ? ' (put it in quotes)' : ''),
      };
    case 'invalid_value':
      return {
        path: where,
        message: issue.message.startsWith('Invalid')
          ? `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(issue.input)}`
          : `${issue.message}, got ${describe(issue.input)}`,
      };
    default:
      return { path: where, message: issue.message };
  }
}

function article(type: string): string {
  return type === 'array' || type === 'object' || type === 'integer' ? `an ${type}` : `a ${type}`;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
