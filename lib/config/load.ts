import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { configSchema, CubicleConfig } from './schema';
import { crossCheck } from './cross-checks';
import { UserError } from './errors';
import { ConfigProblem, describePath, issueProblems, LocatedProblem } from './problems';
import { readSkillCatalog, SkillCatalog } from './skills-catalog';

export type { ConfigProblem } from './problems';

/** The bundled example roster, synthesized when `-c config=PATH` is not given. */
export const DEFAULT_CONFIG_PATH = 'config/example.yaml';

/** A config file with problems: every problem of the file, one line each. */
export class ConfigError extends UserError {
  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      `Invalid Cubicle config ${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n` +
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

export interface ParseOptions {
  /** The skills agents may name. Default: the repository's skills folder. */
  readonly skills?: SkillCatalog;
}

export function loadConfigFile(file: string, options: ParseOptions = {}): LoadedConfig {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError(file, [{ path: '', message: `cannot read config: ${reason}` }]);
  }
  return { ...parseConfigText(text, file, options), sourceFile: absolute };
}

/** Parses and validates YAML text; throws ConfigError listing every problem. */
export function parseConfigText(text: string, sourceName = 'config', options: ParseOptions = {}): CubicleConfig {
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
    throw new ConfigError(sourceName, [
      { path: '', message: 'the file is empty: start from a copy of config/example.yaml' },
    ]);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(sourceName, [
      {
        path: '',
        message: `the file must be a mapping of settings (name: ..., users: ...), got ${Array.isArray(raw) ? 'a list' : JSON.stringify(raw)}`,
      },
    ]);
  }
  const result = configSchema.safeParse(raw, { reportInput: true });
  const located: LocatedProblem[] = [
    ...(result.success ? [] : result.error.issues.flatMap((issue) => issueProblems(issue, configSchema))),
    ...crossCheck(raw, { skills: options.skills ?? readSkillCatalog() }),
  ];
  const problems = dedupe(located.map((p) => ({ path: describePath(raw, p.at), message: p.message })));
  if (problems.length > 0 || !result.success) throw new ConfigError(sourceName, problems);
  return result.data;
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
