/**
 * Bundles the CLI into one file with no dependencies, `cli/dist/cubicle.cjs` (not committed; the package's
 * `cubicle` bin): an employee runs it with Node.js 20+ alone. `npm run build:cli` writes it; local mode and the
 * test run build it too (writeCli).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildSync } from 'esbuild';

export const CLI_BUNDLE = path.join(__dirname, 'dist', 'cubicle.cjs');

export function buildCli(): string {
  const result = buildSync({
    absWorkingDir: path.join(__dirname, '..'),
    entryPoints: ['cli/cubicle.ts'],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    legalComments: 'eof',
    charset: 'utf8',
    banner: { js: '#!/usr/bin/env node' },
    // ws's optional native add-ons: absent, ws falls back to JavaScript.
    external: ['bufferutil', 'utf-8-validate'],
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

/** Writes a fresh bundle to cli/dist/ (only when it changed; by rename, so a concurrent reader never sees half). */
export function writeCli(): string {
  const text = buildCli();
  let current: string | undefined;
  try {
    current = readFileSync(CLI_BUNDLE, 'utf8');
  } catch {
    current = undefined;
  }
  if (current !== text) {
    mkdirSync(path.dirname(CLI_BUNDLE), { recursive: true });
    const temporary = `${CLI_BUNDLE}.${process.pid}.tmp`;
    writeFileSync(temporary, text, { mode: 0o755 });
    renameSync(temporary, CLI_BUNDLE);
  }
  return text;
}

if (require.main === module) {
  const text = writeCli();
  console.log(`${path.relative(process.cwd(), CLI_BUNDLE)}  ${(text.length / 1024).toFixed(0)} KiB`);
}
