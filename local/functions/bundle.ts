/**
 * Bundles the control-plane handler entries with esbuild, the AWS SDK included as in the stack, plus the
 * local host that runs them. One CommonJS file per function rather than the stack's split ES modules
 * (lib/constructs/function-bundle.ts): the host stays up, so cold-start compile time does not matter here. Bundles are
 * cached under node_modules/.cache/cubicle-local and rebuilt only when one of their input files changed,
 * so a second start skips the ~3 s build.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { build, version as esbuildVersion, type BuildOptions } from 'esbuild';
import { writeFileAtomic } from '../files';
import { FUNCTION_NAMES, type FunctionName } from '../aws/principals';
import { HANDLERS_DIR } from './registry';

const REPO = path.join(__dirname, '..', '..');
const CACHE = path.join(REPO, 'node_modules', '.cache', 'cubicle-local', 'functions');
const HOST_ENTRY = path.join(__dirname, 'host.ts');

export interface Bundles {
  readonly functions: Readonly<Record<FunctionName, string>>;
  readonly host: string;
}

interface Manifest {
  readonly key: string;
  readonly dir: string;
  /** Input file (relative to the repository) → sha256 of its content. */
  readonly inputs: Record<string, string>;
}

const OPTIONS = {
  bundle: true,
  platform: 'node',
  target: `node${process.versions.node.split('.')[0]}`,
  format: 'cjs',
  mainFields: ['module', 'main'],
  logLevel: 'silent',
  absWorkingDir: REPO,
  metafile: true,
} satisfies BuildOptions;

const OPTIONS_KEY = createHash('sha256')
  .update(JSON.stringify({ OPTIONS, esbuildVersion, FUNCTION_NAMES }))
  .digest('hex');

export async function functionBundles(): Promise<Bundles> {
  const pointer = path.join(CACHE, 'current.json');
  const cached = existsSync(pointer) ? (JSON.parse(readFileSync(pointer, 'utf8')) as Manifest) : undefined;
  if (cached && cached.key === OPTIONS_KEY && existsSync(path.join(CACHE, cached.dir)) && unchanged(cached.inputs))
    return paths(cached.dir);

  mkdirSync(CACHE, { recursive: true });
  const dir = `build-${Date.now()}-${randomBytes(4).toString('hex')}`;
  const tmp = path.join(CACHE, `.${dir}`);
  const entries: Record<string, string> = { host: HOST_ENTRY };
  for (const name of FUNCTION_NAMES) entries[name] = path.join(HANDLERS_DIR, `${name}.ts`);
  // One build for every entry: esbuild parses the modules they share (the AWS SDK) once.
  const result = await build({ ...OPTIONS, entryPoints: entries, outdir: tmp, entryNames: '[name]/index' });
  const inputs: Record<string, string> = {};
  for (const input of Object.keys(result.metafile?.inputs ?? {})) inputs[input] = hashOf(path.join(REPO, input));
  renameSync(tmp, path.join(CACHE, dir));
  writeFileAtomic(pointer, JSON.stringify({ key: OPTIONS_KEY, dir, inputs } satisfies Manifest));
  removeOldBuilds(dir);
  return paths(dir);
}

function paths(dir: string): Bundles {
  const file = (name: string) => path.join(CACHE, dir, name, 'index.js');
  return {
    host: file('host'),
    functions: Object.fromEntries(FUNCTION_NAMES.map((name) => [name, file(name)])) as Record<FunctionName, string>,
  };
}

function unchanged(inputs: Record<string, string>): boolean {
  return Object.entries(inputs).every(([file, hash]) => {
    try {
      return hashOf(path.join(REPO, file)) === hash;
    } catch {
      return false;
    }
  });
}

function hashOf(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Builds older than an hour that the pointer no longer names (another process may still be loading a recent one). */
function removeOldBuilds(keep: string): void {
  for (const entry of readdirSync(CACHE)) {
    if (entry === keep || entry === 'current.json') continue;
    const full = path.join(CACHE, entry);
    try {
      if (Date.now() - statSync(full).mtimeMs > 60 * 60_000) rmSync(full, { recursive: true, force: true });
    } catch {
      // another process removed it
    }
  }
}
