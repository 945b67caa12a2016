/**
 * Bundles the supervisor, the workbench daemon and the hook command into `dist/` (committed): the Docker build context is
 * this folder alone, so the image copies finished bundles instead of building TypeScript. Run
 * `npx tsx runtime/agent/build.ts` after changing `runtime/agent/src` or `runtime/shared`; a test
 * fails while the committed bundles differ from a fresh build.
 *
 * The shell parser (mvdan-sh, 1.5 MB) stays out of the supervisor's bundle: it is copied unchanged to
 * `dist/node_modules/` (the image's /opt/cubicle/node_modules) and loaded on the first shell tool call,
 * so it costs nothing at start-up.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { build, type BuildOptions } from 'esbuild';

export const AGENT_DIR = __dirname;
export const DIST_DIR = path.join(AGENT_DIR, 'dist');
export const BUNDLES = {
  'entrypoint.cjs': path.join(AGENT_DIR, 'src', 'entrypoint.ts'),
  'guard-hook.cjs': path.join(AGENT_DIR, 'src', 'guard-hook.ts'),
  'workbench.cjs': path.join(AGENT_DIR, 'src', 'workbench.ts'),
} as const;

const COMMON: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'eof',
  charset: 'utf8',
  // Paths in the bundle are relative to the repository, so the output is the same on every machine.
  absWorkingDir: path.join(AGENT_DIR, '..', '..'),
  logLevel: 'silent',
  external: ['mvdan-sh'],
};

/** Packages shipped beside the bundles, file by file (their licenses travel with them). */
const VENDORED = { 'mvdan-sh': ['index.js', 'LICENSE', 'package.json'] } as const;

/** Builds both bundles in memory, with the vendored packages; returns path under dist/ → contents. */
export async function buildAgent(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, entry] of Object.entries(BUNDLES)) {
    const result = await build({ ...COMMON, entryPoints: [entry], write: false, outfile: path.join(DIST_DIR, name) });
    out[name] = result.outputFiles[0].text;
  }
  for (const [pkg, files] of Object.entries(VENDORED)) {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`));
    for (const file of files) out[path.join('node_modules', pkg, file)] = readFileSync(path.join(dir, file), 'utf8');
  }
  return out;
}

if (require.main === module) {
  void (async () => {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    for (const [name, text] of Object.entries(await buildAgent())) {
      mkdirSync(path.dirname(path.join(DIST_DIR, name)), { recursive: true });
      writeFileSync(path.join(DIST_DIR, name), text);
      console.log(`${path.relative(process.cwd(), path.join(DIST_DIR, name))}  ${(text.length / 1024).toFixed(0)} KiB`);
    }
  })();
}
