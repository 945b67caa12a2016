/**
 * The data directory (`.cubicle-local/` by default, mode 0700): everything local mode keeps across
 * restarts, and a lock so that two instances never share it.
 *
 *   dynamodb/     dynalite's LevelDB (sessions, inbox, events, approvals)
 *   vault/        KMS keys and encrypted secrets
 *   issuer/       the issuer's signing key
 *   workspaces/   <user>/<agent>: each pair's workspace
 *   ecs/          task records (to clean up after a crash)
 *   logs/         functions/*.log, agents/<user>/<agent>.log, local.log
 *   functions/    the function bundles of this run, with roster.json
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { processStart } from './ecs/processes';
import { writeFileAtomic } from './files';

export class LocalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalError';
  }
}

export interface DataDir {
  readonly root: string;
  path(...parts: string[]): string;
  release(): void;
}

export function openDataDir(root: string): DataDir {
  const absolute = path.resolve(root);
  mkdirSync(absolute, { recursive: true, mode: 0o700 });
  const lock = path.join(absolute, 'local.pid');
  if (existsSync(lock)) {
    const [pid, start] = readFileSync(lock, 'utf8').trim().split(' ').map(Number);
    if (pid !== process.pid && processStart(pid) !== undefined && processStart(pid) === start) {
      throw new LocalError(`another Cubicle local (pid ${pid}) is using ${absolute}; stop it or pass --data DIR`);
    }
  }
  writeFileAtomic(lock, `${process.pid} ${processStart(process.pid) ?? 0}\n`);
  return {
    root: absolute,
    path: (...parts) => path.join(absolute, ...parts),
    release: () => rmSync(lock, { force: true }),
  };
}
