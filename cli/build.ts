/**
 * Bundles the CLI into one file with no dependencies, `cli/dist/cubicle.cjs` (committed, the package's
 * `cubicle` bin): an employee runs it with Node.js 20+ alone. Run `npm run build:cli` after changing cli/
 * or what it imports; a test fails while the committed bundle differs from a fresh build.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
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

if (require.main === module) {
  const text = buildCli();
  mkdirSync(path.dirname(CLI_BUNDLE), { recursive: true });
  writeFileSync(CLI_BUNDLE, text, { mode: 0o755 });
  console.log(`${path.relative(process.cwd(), CLI_BUNDLE)}  ${(text.length / 1024).toFixed(0)} KiB`);
}
