/**
 * The asset hash of a function's bundle, computed from what goes into it rather than from the bundle itself. CDK
 * bundles an asset whose hash it knows beforehand only if `<outdir>/asset.<hash>` is not there yet (AssetStaging),
 * so a second `cdk synth` or `cdk deploy` into the same cdk.out runs no esbuild for unchanged functions (the twelve
 * take ~10 s here). Hashing the output instead meant bundling every function at every synth to learn its hash.
 *
 * What is hashed is a superset of a bundle's inputs:
 * - every file under FUNCTION_SOURCE_ROOTS, by its path in the repository and its bytes (a test holds each
 *   function's esbuild inputs to these folders and node_modules);
 * - package-lock.json, which fixes what `npm ci` puts in node_modules, and the package.json and tsconfig.json esbuild
 *   reads for the sources (module type, TypeScript settings such as class fields);
 * - esbuild's version, the build options and the bundler's own source (function-bundle.ts rewrites what esbuild
 *   emits);
 * - the handler's entry, and the roster file copied beside the bundle when there is one.
 * Paths are relative to the repository, so the hash is the same on every machine with the same files.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { version as esbuildVersion } from 'esbuild';
import { FUNCTION_BUILD } from './function-bundle';
import { field, sourceDigest } from './source-hash';

/** Folders (relative to the repository) that hold every function's own sources. */
export const FUNCTION_SOURCE_ROOTS = ['runtime/control-plane', 'runtime/relay', 'runtime/shared'] as const;

/** Files outside the roots whose bytes decide a bundle: the lockfile, the settings esbuild reads, the bundler. */
const BUILD_INPUTS = [
  'package-lock.json',
  'package.json',
  'tsconfig.json',
  'lib/constructs/function-bundle.ts',
] as const;

/** Digests of the shared inputs, by repository: read once per process, not once per function. */
const shared = new Map<string, string>();

function sharedInputsDigest(repoRoot: string): string {
  let digest = shared.get(repoRoot);
  if (digest === undefined) {
    digest = sourceDigest(repoRoot, {
      roots: FUNCTION_SOURCE_ROOTS,
      files: BUILD_INPUTS,
      values: { esbuild: esbuildVersion, options: JSON.stringify(FUNCTION_BUILD) },
    });
    shared.set(repoRoot, digest);
  }
  return digest;
}

/** The asset hash of the bundle of `entry` (with `rosterFile` beside it, if any). */
export function functionSourceHash(repoRoot: string, entry: string, rosterFile: string | undefined): string {
  const hash = createHash('sha256');
  field(hash, 'inputs', sharedInputsDigest(repoRoot));
  field(hash, 'entry', path.relative(repoRoot, entry).split(path.sep).join('/'));
  if (rosterFile !== undefined) field(hash, 'roster', readFileSync(rosterFile));
  return hash.digest('hex');
}
