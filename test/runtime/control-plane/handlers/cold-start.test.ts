/**
 * What keeps a control-plane function's cold start short (issue 15; `npm run bench:control-plane` times
 * it): loading a handler runs only its environment and roster checks, and every SDK client, the
 * encryption SDK and the tracer load on the first call that needs them. esbuild's metafile of the bundle
 * as deployed (lib/constructs/function-bundle.ts) tells which chunks the entry imports statically.
 */
import * as path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { CONTROL_PLANE_HANDLERS, REPO_ROOT } from '../../../../lib/constructs/cubicle-function';
import { FUNCTION_BUILD, HANDLER_FILE } from '../../../../lib/constructs/function-bundle';

const HANDLERS = [
  'api',
  'credentials',
  'task-events',
  'reaper',
  'directory-sync',
  'launcher',
  'audit-archive',
  'scheduled-run',
  'notifier',
];

/** Packages whose initialisation costs tens of milliseconds each (client construction, schemas, keyrings). */
const DEFERRED =
  /^node_modules\/(@aws-sdk\/(client-[^/]+|lib-dynamodb|nested-clients)|@aws-crypto\/|aws-xray-sdk-core)\//;

/** The bundle as the stack builds it (split ES modules), not written: esbuild's metafile only. */
async function bundleGraph(handler: string): Promise<Metafile> {
  const out = await build({
    ...FUNCTION_BUILD,
    mainFields: [...FUNCTION_BUILD.mainFields],
    external: [...FUNCTION_BUILD.external],
    entryPoints: { index: path.join(CONTROL_PLANE_HANDLERS, `${handler}.ts`) },
    outdir: path.join(REPO_ROOT, 'cdk.out', 'cold-start-test'),
    absWorkingDir: REPO_ROOT,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return out.metafile;
}

/**
 * Source files evaluated when the function loads: those in the entry chunk and in the chunks it imports
 * statically (a dynamic `import()` chunk loads on the call that needs it).
 */
function loadedAtImport(meta: Metafile): string[] {
  const entry = Object.keys(meta.outputs).find((file) => file.endsWith(`/${HANDLER_FILE}`)) as string;
  const seen = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const imported of meta.outputs[file].imports) {
      if (imported.kind === 'import-statement' && !imported.external) pending.push(imported.path);
    }
  }
  return [...seen].flatMap((file) => Object.keys(meta.outputs[file].inputs));
}

describe('control-plane cold start', () => {
  it.each(HANDLERS)(
    '%s loads no SDK client, encryption SDK or tracer at import time',
    async (handler) => {
      const meta = await bundleGraph(handler);
      const loaded = loadedAtImport(meta);
      // The graph is the real one: the bundle does contain the clients, behind dynamic imports.
      expect(Object.keys(meta.inputs).some((input) => DEFERRED.test(input))).toBe(true);
      expect(loaded.filter((input) => DEFERRED.test(input))).toEqual([]);
    },
    30_000,
  );

  // An import() chunk exports only the names esbuild knows when bundling: a package that re-exports
  // CommonJS with `export *` (the encryption SDK) loses them there, so such a package is imported
  // through a module that names its exports (runtime/shared/esdk.ts); a CommonJS target would export
  // only `default`.
  it.each(HANDLERS)(
    "%s: every module loaded with import() is an ES module and keeps the package's exports",
    async (handler) => {
      const meta = await bundleGraph(handler);
      const targets = new Set<string>();
      for (const [file, input] of Object.entries(meta.inputs)) {
        for (const imported of input.imports) {
          if (imported.kind !== 'dynamic-import' || imported.external) continue;
          expect(meta.inputs[imported.path]?.format, `${imported.path}, imported by ${file}`).toBe('esm');
          if (!file.startsWith('node_modules/')) targets.add(imported.path);
        }
      }
      for (const chunk of Object.values(meta.outputs)) {
        if (!chunk.entryPoint || !targets.has(chunk.entryPoint)) continue;
        const pkg = chunk.entryPoint.match(/^node_modules\/((@[^/]+\/)?[^/]+)\//)?.[1];
        if (!pkg) continue; // the repository's own modules: their exports are named in the source
        const expected = Object.keys((await import(pkg)) as object).filter((name) => name !== 'default');
        expect(
          expected.filter((name) => !chunk.exports.includes(name)),
          `${pkg} in ${handler}`,
        ).toEqual([]);
      }
    },
    60_000,
  );
});
