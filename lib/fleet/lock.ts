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

export function readLockFile(file: string, synthCommand = 'npx cdk synth'): ShardLock {
  if (!existsSync(file)) return { users: {} };
  const text = readFileSync(file, 'utf8');
  const shown = displayPath(file);
  if (/^(<{7}|>{7})( |$)/m.test(text)) throw new FleetError(mergeConflictMessage(shown, text, synthCommand));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FleetError(`${shown}: not valid JSON (${(err as Error).message}); restore it from version control`);
  }
  const result = lockFileSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new FleetError(`${shown}: not a Cubicle shard lock; restore it from version control\n${problems}`);
  }
  return { users: result.data.users };
}

/**
 * Two branches that each added users both extend the lock, so merging them conflicts. The right merge
 * keeps every entry of both sides; only a user given different shards on the two sides needs a choice.
 */
function mergeConflictMessage(file: string, text: string, synthCommand: string): string {
  const sides = conflictSides(text);
  const clashes: string[] = [];
  if (sides) {
    for (const [user, shard] of Object.entries(sides.ours)) {
      const theirs = sides.theirs[user];
      if (theirs !== undefined && theirs !== shard) clashes.push(`"${user}" (${shard} here, ${theirs} there)`);
    }
  }
  return (
    `${file} has an unresolved merge conflict. Resolve it by keeping both sides' entries under "users" (each user keeps the shard it was given), ` +
    `delete the <<<<<<<, ======= and >>>>>>> lines, then run \`${synthCommand}\` (it rewrites the file sorted) and commit it.` +
    (clashes.length
      ? ` Both sides gave a shard to ${clashes.join(', ')}: keep the one that is deployed (the user's resources are in that shard's stack).`
      : '')
  );
}

/** The users of each side of a conflicted lock file, when each side is a readable lock. */
function conflictSides(text: string): { ours: Record<string, number>; theirs: Record<string, number> } | undefined {
  const ours: string[] = [];
  const theirs: string[] = [];
  let state: 'both' | 'ours' | 'base' | 'theirs' = 'both';
  for (const line of text.split('\n')) {
    if (line.startsWith('<<<<<<<')) state = 'ours';
    else if (line.startsWith('|||||||')) state = 'base';
    else if (line.startsWith('=======') && state !== 'both') state = 'theirs';
    else if (line.startsWith('>>>>>>>')) state = 'both';
    else {
      if (state === 'both' || state === 'ours') ours.push(line);
      if (state === 'both' || state === 'theirs') theirs.push(line);
    }
  }
  const users = (lines: string[]) => {
    // A side may end an entry with a "," the other side's last line needed: tolerate a trailing comma.
    const parsed = lockFileSchema.safeParse(safeJson(lines.join('\n').replace(/,(\s*[}\]])/g, '$1')));
    return parsed.success ? parsed.data.users : undefined;
  };
  const a = users(ours);
  const b = users(theirs);
  return a && b ? { ours: a, theirs: b } : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
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
  constructor(file: string, added: readonly string[], synthCommand: string, missing = false) {
    super(
      missing
        ? `${file}: lock file missing, and CI=true forbids creating it (it records each user's Fleet shard). ` +
            `Fix: for a new deployment, run \`${synthCommand}\` locally (without CI=true) and commit ${file}; ` +
            'for one that is deployed already, restore the file from version control (a new lock could put users in other shards, replacing their keys, secrets and access points).'
        : `${file} has no shard for user${added.length === 1 ? '' : 's'} ${added.map((u) => `"${u}"`).join(', ')}, and CI=true forbids changing it ` +
            `(a user's shard is decided once, on a developer's machine, and reviewed). ` +
            `Fix: run \`${synthCommand}\` locally (without CI=true), then commit ${file}.`,
    );
    this.name = 'FrozenLockError';
  }
}

/**
 * Plans the shards for a config: reads the lock (file or given), assigns new users, and writes the
 * file when it changed, unless frozen, in which case it throws FrozenLockError.
 */
export function resolveShardPlan(config: LoadedConfig, options: FleetLockOptions = {}): ShardPlan {
  const file = options.file ?? (config.sourceFile ? lockFileFor(config.sourceFile) : undefined);
  const command = synthCommand(config.sourceFile);
  const start = options.lock ?? (file ? readLockFile(file, command) : { users: {} });
  const plan = planShards(config, start);
  if (plan.added.length === 0 || file === undefined) return plan;
  const frozen = options.frozen ?? isCi();
  if (frozen)
    throw new FrozenLockError(displayPath(file), plan.added, command, options.lock === undefined && !existsSync(file));
  writeFileSync(file, lockFileText(plan.lock));
  return plan;
}

/** The command that synthesizes this config, as the engineer would type it from the project folder. */
export function synthCommand(configFile: string | undefined): string {
  return configFile ? `npx cdk synth -c config=${displayPath(configFile)}` : 'npx cdk synth';
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
