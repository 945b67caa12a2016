import { readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { refuseOversizedTemplates } from '../fleet/template-size-guard';
import { configWarnings, UserError } from './errors';
import { DEFAULT_CONFIG_PATH, loadConfigFile, type LoadedConfig } from './load';

/** `-c config=PATH`, or the bundled example. */
export function configPathFrom(app: App): string {
  const value: unknown = app.node.tryGetContext('config');
  return typeof value === 'string' && value.length > 0 ? value : DEFAULT_CONFIG_PATH;
}

/**
 * Loads the config for a command other than synth (local mode): a problem the engineer must fix is printed
 * as synth prints it (one line per problem, no stack trace) and the process exits 1.
 */
export function loadConfigOrExit(file: string): LoadedConfig {
  try {
    return loadConfigFile(file);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

/**
 * What `cdk synth` runs (bin/cubicle.ts): builds the app, synthesizes it and tidies the output folder.
 * A problem the engineer must fix (config, lock file, repository) ends as its message alone on stderr and
 * exit code 1, without a stack trace; anything else is a bug and keeps its stack.
 */
export function synthOrExit(app: App, build: () => unknown): void {
  const restore = quietBundling();
  try {
    build();
    const assembly = app.synth();
    pruneStaleTemplates(assembly);
    refuseOversizedTemplates(assembly);
    for (const warning of configWarnings(app)) process.stderr.write(`Warning: ${warning}\n`);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  } finally {
    restore();
  }
}

/**
 * CDK announces every NodejsFunction bundle on stderr ("Bundling asset X...", aws-cdk-lib
 * core/lib/asset-staging), whatever the CLI's `-q`; a successful synth should print nothing of its own.
 * Returns the function that puts stderr back.
 */
export function quietBundling(): () => void {
  const write = process.stderr.write;
  process.stderr.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    if (typeof chunk === 'string' && /^Bundling asset \S+\.\.\.\r?\n$/.test(chunk)) return true;
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof process.stderr.write;
  return () => {
    process.stderr.write = write;
  };
}

/**
 * Synth writes into the same folder (cdk.out) every time but never removes what an earlier synth left:
 * after switching configs, another deployment's templates would sit beside the new ones, where a reviewer
 * reading `cdk.out/*.template.json` would take them for this one's. Removes the top-level templates and
 * asset manifests this assembly does not reference. Asset folders (`asset.*`) stay: they are a cache.
 */
export function pruneStaleTemplates(assembly: CloudAssembly): string[] {
  const current = new Set<string>();
  for (const artifact of assembly.manifest.artifacts ? Object.values(assembly.manifest.artifacts) : []) {
    const properties = (artifact.properties ?? {}) as { templateFile?: string; file?: string };
    for (const file of [properties.templateFile, properties.file]) if (file) current.add(path.basename(file));
  }
  const removed = readdirSync(assembly.directory).filter(
    (file) => (file.endsWith('.template.json') || file.endsWith('.assets.json')) && !current.has(file),
  );
  for (const file of removed) rmSync(path.join(assembly.directory, file), { force: true });
  return removed;
}
