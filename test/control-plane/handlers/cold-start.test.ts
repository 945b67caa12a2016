/**
 * What keeps a control-plane function's cold start short (issue 15; `npm run bench:control-plane` times
 * it): loading a handler runs only its environment and roster checks, and every SDK client, the
 * encryption SDK and the tracer load on the first call that needs them. esbuild's metafile gives the
 * module graph as the bundle sees it, with static imports told apart from dynamic `import()`.
 */
import * as path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { BUNDLING, CONTROL_PLANE_HANDLERS, REPO_ROOT } from '../../../lib/constructs/cubicle-function';

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

async function moduleGraph(handler: string): Promise<Metafile> {
  const out = await build({
    entryPoints: [path.join(CONTROL_PLANE_HANDLERS, `${handler}.ts`)],
    absWorkingDir: REPO_ROOT,
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    target: BUNDLING.target,
    format: 'cjs',
    mainFields: [...BUNDLING.mainFields],
    external: [...BUNDLING.externalModules],
    outfile: 'index.js',
    logLevel: 'silent',
  });
  return out.metafile;
}

/** Inputs evaluated when the bundle loads: reachable from the entry through static imports only. */
function loadedAtImport(meta: Metafile, entry: string): Set<string> {
  const seen = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const imported of meta.inputs[file]?.imports ?? []) {
      if (imported.kind !== 'dynamic-import' && !imported.external) pending.push(imported.path);
    }
  }
  return seen;
}

describe('control-plane cold start', () => {
  it.each(HANDLERS)(
    '%s loads no SDK client, encryption SDK or tracer at import time',
    async (handler) => {
      const meta = await moduleGraph(handler);
      const entry = path.relative(REPO_ROOT, path.join(CONTROL_PLANE_HANDLERS, `${handler}.ts`));
      const loaded = loadedAtImport(meta, entry);
      // The graph is the real one: the bundle does contain the clients, behind dynamic imports.
      expect(Object.keys(meta.inputs).some((input) => DEFERRED.test(input))).toBe(true);
      expect([...loaded].filter((input) => DEFERRED.test(input))).toEqual([]);
    },
    30_000,
  );
});
