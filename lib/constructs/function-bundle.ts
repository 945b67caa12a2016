/**
 * How every control-plane and relay function is bundled (CubicleFunction; scripts/bench-control-plane.ts
 * and the cold-start test build with the same function). The AWS SDK is bundled rather than taken from
 * the Lambda runtime, so the SDK the tests ran is the one that deploys, minified and tree-shaken.
 *
 * ES modules with code splitting: the handler's entry (index.mjs) holds only what a cold start runs
 * (environment and roster checks, the logger); each `import()` of a client or of the handler logic
 * becomes its own chunk, which Node reads and compiles on the first call that needs it. One CommonJS file
 * made every cold start compile the whole SDK (~1.2 MB for the API: ~80 ms before any code ran).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildSync, type BuildOptions } from 'esbuild';

export const FUNCTION_RUNTIME_TARGET = 'node24';
/** The handler's file in the asset (Lambda loads a `.mjs` handler as an ES module). */
export const HANDLER_FILE = 'index.mjs';

/**
 * CommonJS dependencies inside an ES module still call `require` for Node built-ins, and the roster is
 * read next to the bundle (`__dirname`): both exist only in CommonJS, so each chunk that uses them defines
 * them. Without importing `node:module`, `node:url` and `node:path`: an ES module import of a built-in builds
 * its module namespace at load, ~0.5–1 ms each of a cold start (issue 15); `process.getBuiltinModule` and
 * `import.meta.dirname` do not (https://nodejs.org/api/process.html#processgetbuiltinmoduleid).
 */
const CJS_SHIM = [
  "const require = process.getBuiltinModule('node:module').createRequire(import.meta.url);",
  'const __filename = import.meta.filename;',
  'const __dirname = import.meta.dirname;',
].join('\n');

/** node:http for the bundles, without its ES module namespace (FUNCTION_BUILD.alias). */
const NODE_HTTP_MODULE = './runtime/shared/node-http.ts';

export const FUNCTION_BUILD = {
  bundle: true,
  platform: 'node',
  target: FUNCTION_RUNTIME_TARGET,
  format: 'esm',
  splitting: true,
  minify: true,
  // No source maps: Lambda applies them only under NODE_OPTIONS=--enable-source-maps, which makes every cold start
  // read them; unused, they were four fifths of an asset's bytes and a third of its bundling time. To read a stack
  // trace from the logs, build the same commit with `sourcemap: true`: the code is the same at the same positions
  // (only the chunks' hashed names differ).
  sourcemap: false,
  mainFields: ['module', 'main'],
  external: [],
  // node:http, imported as an ES module or required, is the module as process.getBuiltinModule returns it: its ES
  // module namespace loads undici on Node 22+ (runtime/shared/node-http.ts). Relative to the working directory (the
  // repository), so the options, which the asset hash reads, name no machine's path.
  alias: { http: NODE_HTTP_MODULE, 'node:http': NODE_HTTP_MODULE },
  outExtension: { '.js': '.mjs' },
  entryNames: '[name]',
  // Beside the entry: a chunk's `__dirname` must be the bundle's directory, where roster.json lies.
  chunkNames: '[name]-[hash]',
  banner: { js: CJS_SHIM },
  logLevel: 'warning',
} as const satisfies BuildOptions;

/** Whether a chunk's own code (after the banner) uses what the shim defines. */
const USES_SHIM = /\brequire\b|\b__filename\b|\b__dirname\b/;

/**
 * The banner where the chunk uses it, blank lines (so line numbers stay those esbuild wrote) where not: most
 * chunks are the repository's own ES modules, and each shim costs the cold start ~0.5 ms (issue 15).
 */
export function withShimWhereUsed(text: string): string {
  const banner = FUNCTION_BUILD.banner.js;
  if (!text.startsWith(`${banner}\n`)) return text;
  const body = text.slice(banner.length + 1);
  return USES_SHIM.test(body) ? text : '\n'.repeat(banner.split('\n').length) + body;
}

/**
 * Where esbuild is told the bundle goes: one place, two levels under the working directory as `cdk.out/asset.<hash>`
 * is, so nothing esbuild derives from the output folder (a source map's paths, when one is built to read a stack
 * trace) depends on where that folder is on this machine; the bytes are the same wherever they are written.
 */
const BUNDLED_FOR = path.join('cdk.out', 'bundle');

/** Bundles one handler entry into `outdir` (index.mjs plus its chunks); returns esbuild's metafile. */
export function bundleFunction(entry: string, outdir: string, options: { absWorkingDir: string }) {
  const bundledFor = path.join(options.absWorkingDir, BUNDLED_FOR);
  const result = buildSync({
    ...FUNCTION_BUILD,
    mainFields: [...FUNCTION_BUILD.mainFields],
    external: [...FUNCTION_BUILD.external],
    entryPoints: { index: entry },
    outdir: bundledFor,
    absWorkingDir: options.absWorkingDir,
    metafile: true,
    write: false,
  });
  for (const file of result.outputFiles) {
    const target = path.join(outdir, path.relative(bundledFor, file.path));
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, target.endsWith('.mjs') ? withShimWhereUsed(file.text) : file.contents);
  }
  return result.metafile;
}

/** The entry chunk's path inside a bundle directory. */
export const handlerFileIn = (outdir: string) => path.join(outdir, HANDLER_FILE);
