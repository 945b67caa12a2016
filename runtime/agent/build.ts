/**
 * Bundles the supervisor, the workbench daemon and the hook command into `dist/` (not committed): the Docker build
 * context is this folder alone, so the image copies finished bundles instead of building TypeScript. Built where
 * needed: at synth (lib/stacks/platform-stack.ts, before the image assets hash this folder), when local mode starts,
 * once per test run (test/support/global-setup.ts) and by the benchmarks. esbuild's output depends only on the
 * sources and its version (paths are relative to the repository), so the image's asset hash stays deterministic.
 *
 * The shell parser (mvdan-sh, 1.5 MB) stays out of the supervisor's bundle: it is copied unchanged to
 * `dist/node_modules/` (the image's /opt/cubicle/node_modules) and loaded on the first shell tool call,
 * so it costs nothing at start-up.
 *
 * Likewise the parts of the supervisor no task needs before "ready" (LAZY_BUNDLES) are bundles of their own beside
 * it, loaded on first use (src/lazy-bundle.ts): compiling and running them (the Encryption SDK and KMS for the inbox,
 * STS for Bedrock agents) no longer delays every task's start (issue 15).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildSync, type BuildOptions } from 'esbuild';

export const AGENT_DIR = __dirname;
export const DIST_DIR = path.join(AGENT_DIR, 'dist');
export const BUNDLES = {
  'entrypoint.cjs': path.join(AGENT_DIR, 'src', 'entrypoint.ts'),
  'guard-hook.cjs': path.join(AGENT_DIR, 'src', 'guard-hook.ts'),
  'workbench.cjs': path.join(AGENT_DIR, 'src', 'workbench.ts'),
} as const;

/**
 * Deferred parts of the supervisor: the name src/lazy-bundle.ts `require`s them by at run time → the source of the
 * bundle shipped under that name beside entrypoint.cjs (CommonJS: no package.json of type module is above it).
 */
export const LAZY_BUNDLES = {
  './inbox-opener.js': path.join(AGENT_DIR, 'src', 'inbox-opener.ts'),
  './sts.js': path.join(AGENT_DIR, 'src', 'sts.ts'),
} as const;

/**
 * Files under /opt/cubicle that the supervisor's process compiles, relative to it: its bundle, the deferred ones and
 * the shell parser. The image compiles each once at build time into Node's compile cache (Dockerfile, the RUN step
 * with NODE_COMPILE_CACHE), so a task's node reads V8's code instead of compiling the bundle again at every start.
 */
export const COMPILE_CACHED = [
  'entrypoint.cjs',
  ...Object.keys(LAZY_BUNDLES).map((specifier) => path.basename(specifier)),
  'node_modules/mvdan-sh/index.js',
] as const;

/** Options every bundle is built with (exported for the tests that inspect what goes into a bundle). */
export const COMMON: BuildOptions = {
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
  // Each package's CommonJS build, not its ES module one (esbuild's default for platform node): the AWS SDK's ES
  // build of @aws-sdk/core re-exports its browser user-agent parser, so the `bowser` browser-detection library was
  // evaluated at every start; the CommonJS build requires it only inside the browser code path (issue 15).
  mainFields: ['main'],
  conditions: ['node'],
};

/** Packages shipped beside the bundles, file by file (their licenses travel with them). */
const VENDORED = { 'mvdan-sh': ['index.js', 'LICENSE', 'package.json'] } as const;

/** Builds the bundles in memory, with the vendored packages; returns path under dist/ → contents. */
export function buildAgent(): Record<string, string> {
  const out: Record<string, string> = {};
  const bundles = [
    ...Object.entries(BUNDLES),
    ...Object.entries(LAZY_BUNDLES).map(([specifier, entry]) => [path.basename(specifier), entry]),
  ];
  for (const [name, entry] of bundles) {
    const result = buildSync({ ...COMMON, entryPoints: [entry], write: false, outfile: path.join(DIST_DIR, name) });
    out[name] = result.outputFiles[0].text;
  }
  for (const [pkg, files] of Object.entries(VENDORED)) {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`));
    for (const file of files) out[path.join('node_modules', pkg, file)] = readFileSync(path.join(dir, file), 'utf8');
  }
  return out;
}

/**
 * Writes a fresh build into dist/, rewriting only files whose contents changed; each write is a rename, so processes
 * that build at the same time (test workers, a synth beside local mode) never read a half-written bundle.
 */
export function writeAgentBundles(): Record<string, string> {
  const bundles = buildAgent();
  for (const [name, text] of Object.entries(bundles)) {
    const file = path.join(DIST_DIR, name);
    if (readOrUndefined(file) === text) continue;
    mkdirSync(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, text);
    renameSync(temporary, file);
  }
  return bundles;
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

if (require.main === module) {
  for (const [name, text] of Object.entries(writeAgentBundles())) {
    console.log(`${path.relative(process.cwd(), path.join(DIST_DIR, name))}  ${(text.length / 1024).toFixed(0)} KiB`);
  }
}
