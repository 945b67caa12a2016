/**
 * Bundles the supervisor and the hook command into `dist/` (committed): the Docker build context is
 * this folder alone, so the image copies finished bundles instead of building TypeScript. Run
 * `npx tsx runtime/agent/build.ts` after changing `runtime/agent/src` or `runtime/shared`; a test
 * fails while the committed bundles differ from a fresh build.
 */
import * as path from 'node:path';
import { build, type BuildOptions } from 'esbuild';

export const AGENT_DIR = __dirname;
export const DIST_DIR = path.join(AGENT_DIR, 'dist');
export const BUNDLES = {
  'entrypoint.cjs': path.join(AGENT_DIR, 'src', 'entrypoint.ts'),
  'guard-hook.cjs': path.join(AGENT_DIR, 'src', 'guard-hook.ts'),
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
};

/** Builds both bundles in memory; returns file name → contents. */
export async function buildAgent(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, entry] of Object.entries(BUNDLES)) {
    const result = await build({ ...COMMON, entryPoints: [entry], write: false, outfile: path.join(DIST_DIR, name) });
    out[name] = result.outputFiles[0].text;
  }
  return out;
}

if (require.main === module) {
  void (async () => {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(DIST_DIR, { recursive: true });
    for (const [name, text] of Object.entries(await buildAgent())) {
      writeFileSync(path.join(DIST_DIR, name), text);
      console.log(`${path.relative(process.cwd(), path.join(DIST_DIR, name))}  ${(text.length / 1024).toFixed(0)} KiB`);
    }
  })();
}
