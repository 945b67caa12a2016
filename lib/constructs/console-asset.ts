/**
 * The employee console's build as the two sources its bucket deployments copy (console-site.ts): the hashed assets
 * (assets/, kept forever) and the pages that name them (index.html). Each is a CDK asset bundled locally with esbuild
 * and hashed by the console's sources (source-hash.ts), as the functions' bundles are: CDK builds the console only
 * when the ControlPlane stack is bundled (`aws:cdk:bundling-stacks`; not for `cdk ls`, a deploy of another stack,
 * or the tests' template-only synths) and only once per kept cdk.out. Built at construction instead, it cost every
 * synth ~0.15 s.
 */
import { cpSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { AssetHashType } from 'aws-cdk-lib';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { version as esbuildVersion } from 'esbuild';
import { buildConsoleShared, CONSOLE_BUILD, CONSOLE_DIR, type ConsoleBuild } from '../../console/build';
import { bundledLocally, sourceDigest } from './source-hash';

/** The deployments' two halves of the build. */
export type ConsolePart = 'assets' | 'pages';

/**
 * Folders (relative to the repository) whose files the console's build may read: its own, and the routes and
 * provider names it shares with the control plane. test/console/asset.test.ts holds esbuild's inputs to these.
 */
export const CONSOLE_SOURCE_ROOTS = [
  'console/src',
  'console/static',
  'runtime/control-plane',
  'runtime/shared',
] as const;

/** Single files the build reads or is decided by: the builder, the settings parser, the TypeScript and package settings. */
export const CONSOLE_BUILD_INPUTS = [
  'console/build.ts',
  'console/settings.ts',
  'console/tsconfig.json',
  'tsconfig.json',
  'package.json',
  'package-lock.json',
] as const;

const REPO_ROOT = path.join(CONSOLE_DIR, '..');

/** The asset hash of one part of the console's build, from its sources (the same on every machine with the same files). */
export function consoleSourceHash(part: ConsolePart, repoRoot: string = REPO_ROOT): string {
  return sourceDigest(repoRoot, {
    roots: CONSOLE_SOURCE_ROOTS,
    files: CONSOLE_BUILD_INPUTS,
    values: { part, esbuild: esbuildVersion, options: JSON.stringify(CONSOLE_BUILD) },
  });
}

/** One part of the console as a bucket deployment's source. */
export function consoleSource(part: ConsolePart): s3deploy.ISource {
  return s3deploy.Source.asset(CONSOLE_DIR, {
    assetHashType: AssetHashType.CUSTOM,
    assetHash: consoleSourceHash(part),
    bundling: bundledLocally(['console', part], (outputDir) => writeConsolePart(part, outputDir)),
  });
}

/** The console's build, once per process: a synth bundles both parts from it. */
let built: ConsoleBuild | undefined;

/** Copies `part` of the console's build into `outputDir`. */
function writeConsolePart(part: ConsolePart, outputDir: string): void {
  const { dir } = (built ??= buildConsoleShared());
  if (part === 'assets') {
    cpSync(path.join(dir, 'assets'), outputDir, { recursive: true });
    return;
  }
  for (const name of readdirSync(dir)) {
    if (name !== 'assets') cpSync(path.join(dir, name), path.join(outputDir, name), { recursive: true });
  }
}
