import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ID_PATTERN } from '../../runtime/shared/ids';
import { LoadedConfig } from '../config/load';
import { FleetError, planShards, ShardLock, ShardPlan } from './shards';

/**
 * The shard lock file: `config/acme.lock.json` beside `config/acme.yaml`. Like cdk.context.json, synth
 * extends it for new users and it is committed; with CI=true synth refuses to change it.
 */

export const LOCK_FILE_NOTE =
  'Fleet shard of every user. Written by `cdk synth` when users are added; commit it. ' +
  'A user never moves: moving would replace their key, secrets and access points. CI refuses to change this file.';

const lockFileSchema = z.strictObject({
  '//': z.string().optional(),
  version: z.literal(1, { error: 'version must be 1' }),
  users: z.record(
    z.string().regex(ID_PATTERN, 'user ids are lowercase letters, digits and "-"'),
    z.number({ error: 'a shard number' }).int().positive('shard numbers start at 1'),
  ),
});

/** Where the lock of a config file lives: same directory and base name, `.lock.json`. */
export function lockFileFor(configFile: string): string {
  const parsed = path.parse(configFile);
  return path.join(parsed.dir, `${parsed.name}.lock.json`);
}

export function readLockFile(file: string): ShardLock {
  if (!existsSync(file)) return { users: {} };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FleetError(`${file}: not valid JSON (${(err as Error).message}); restore it from version control`);
  }
  const result = lockFileSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new FleetError(`${file}: not a Cubicle shard lock\n${problems}`);
  }
  return { users: result.data.users };
}

export function lockFileText(lock: ShardLock): string {
  return `${JSON.stringify({ '//': LOCK_FILE_NOTE, version: 1, users: lock.users }, null, 2)}\n`;
}

export interface FleetLockOptions {
  /** Start from this lock instead of the lock file (tests, benchmarks). */
  readonly lock?: ShardLock;
  /** Lock file to read and extend; default: beside the config file, none for a config parsed from text. */
  readonly file?: string;
  /**
   * Refuse to change the lock file. Default: true when the CI environment variable is "true" or "1"
   * and there is a lock file (a config parsed from text only ever has an in-memory lock).
   */
  readonly frozen?: boolean;
}

/** Thrown when the lock would change but must not (CI). */
export class FrozenLockError extends FleetError {
  constructor(file: string, added: readonly string[]) {
    super(
      `${file} has no shard for user${added.length === 1 ? '' : 's'} ${added.map((u) => `"${u}"`).join(', ')}, and CI=true forbids changing it ` +
        `(a user's shard is decided once, on a developer's machine, and reviewed). ` +
        `Fix: run \`npx cdk synth\` locally (without CI=true), then commit ${path.basename(file)}.`,
    );
    this.name = 'FrozenLockError';
    // The message says everything; a stack trace would only bury it in the CLI's output.
    this.stack = `${this.name}: ${this.message}`;
  }
}

/**
 * Plans the shards for a config: reads the lock (file or given), assigns new users, and writes the
 * file when it changed, unless frozen, in which case it throws FrozenLockError.
 */
export function resolveShardPlan(config: LoadedConfig, options: FleetLockOptions = {}): ShardPlan {
  const file = options.file ?? (config.sourceFile ? lockFileFor(config.sourceFile) : undefined);
  const start = options.lock ?? (file ? readLockFile(file) : { users: {} });
  const plan = planShards(config, start);
  if (plan.added.length === 0 || file === undefined) return plan;
  const frozen = options.frozen ?? isCi();
  if (frozen) throw new FrozenLockError(displayPath(file), plan.added);
  writeFileSync(file, lockFileText(plan.lock));
  return plan;
}

/** Relative to the working directory when the file is under it, else absolute. */
function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

function isCi(): boolean {
  const ci = process.env.CI?.toLowerCase();
  return ci === 'true' || ci === '1';
}
