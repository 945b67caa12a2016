/**
 * Asset hashes computed from what goes into an asset rather than from the asset itself (the functions'
 * bundles, function-source-hash.ts; the console's build, console-asset.ts). CDK bundles an asset whose hash it knows
 * beforehand only when `<outdir>/asset.<hash>` is not there yet, and not at all for a stack outside
 * `aws:cdk:bundling-stacks` (`cdk ls`, a deploy of other stacks): hashing the output meant building it every synth.
 */
import { createHash, type Hash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DockerImage, type BundlingOptions } from 'aws-cdk-lib';

export interface SourceInputs {
  /** Folders (relative to the repository) every file of which goes into the digest. */
  readonly roots: readonly string[];
  /** Single files (relative to the repository). */
  readonly files: readonly string[];
  /** Other values the output depends on (a tool's version, build options), by name. */
  readonly values: Readonly<Record<string, string>>;
}

/**
 * A digest of `inputs`: each file by its path relative to the repository (with `/`) and its bytes, so it is the same
 * on every machine with the same files.
 */
export function sourceDigest(repoRoot: string, inputs: SourceInputs): string {
  const hash = createHash('sha256');
  for (const [name, value] of Object.entries(inputs.values)) field(hash, name, value);
  for (const file of [...inputs.roots.flatMap((root) => filesUnder(repoRoot, root)), ...inputs.files])
    field(hash, file, readFileSync(path.join(repoRoot, file)));
  return hash.digest('hex');
}

/** Files under `root`, relative to the repository with `/` separators, in a fixed order. */
function filesUnder(repoRoot: string, root: string): string[] {
  return readdirSync(path.join(repoRoot, root), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(repoRoot, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

/** A name and a value, each length-prefixed, so that no two different inputs hash as the same byte stream. */
export function field(hash: Hash, name: string, value: string | Buffer): void {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  hash.update(`${Buffer.byteLength(name)}:${name}:${bytes.length}:`);
  hash.update(bytes);
}

/**
 * CDK bundling that runs `write(outputDir)` here (esbuild is a dependency: no Docker). `command` names the output
 * in CDK's bundling cache key, so two assets of one source folder never share a bundle directory.
 */
export function bundledLocally(command: readonly string[], write: (outputDir: string) => void): BundlingOptions {
  return {
    // Never used: local bundling always succeeds or throws.
    image: DockerImage.fromRegistry('cubicle-bundles-locally'),
    command: [...command],
    local: {
      tryBundle(outputDir: string): boolean {
        write(outputDir);
        return true;
      },
    },
  };
}
