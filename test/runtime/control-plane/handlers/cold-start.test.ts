/**
 * What keeps a control-plane function's cold start short (issue 15; `npm run bench:control-plane` times
 * it): loading a handler runs only its environment and roster checks, and every SDK client, the
 * encryption SDK and the tracer load on the first call that needs them. esbuild's metafile of the bundle
 * as deployed (lib/constructs/function-bundle.ts) tells which chunks the entry imports statically.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import realHttp from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FUNCTION_HANDLERS,
  handlerEntry,
  REPO_ROOT,
  type FunctionHandler,
} from '../../../../lib/constructs/cubicle-function';
import {
  bundleFunction,
  FUNCTION_BUILD,
  HANDLER_FILE,
  handlerFileIn,
} from '../../../../lib/constructs/function-bundle';
import { FUNCTION_SOURCE_ROOTS } from '../../../../lib/constructs/function-source-hash';
import { ROSTER_FILE_NAME } from '../../../../runtime/control-plane/roster';
import * as nodeHttp from '../../../../runtime/shared/node-http';
import { REFUSED_MESSAGE } from '../../../../runtime/control-plane/origin-verify';
import { ORIGIN_VERIFY_HEADER } from '../../../../runtime/shared/function-contract';
import {
  DEVICE_CONNECT,
  DIRECTORY,
  EVENTS_STREAM_INSERT,
  FOREIGN_RUNTIME_CONNECT,
  FUNCTION_ENV,
  NOTIFY_REQUEST,
  REAPER_TICK,
} from '../support/fixtures';

/** The module the bundles get for node:http (FUNCTION_BUILD.alias), as esbuild names the input. */
const NODE_HTTP_INPUT = 'runtime/shared/node-http.ts';

/** Packages whose initialisation costs tens of milliseconds each (client construction, schemas, keyrings). */
const DEFERRED =
  /^node_modules\/(@aws-sdk\/(client-[^/]+|lib-dynamodb|nested-clients)|@aws-crypto\/|aws-xray-sdk-core)\//;

/** The bundle as the stack builds it (split ES modules), not written: esbuild's metafile only; built once per handler. */
function bundleGraph(handler: FunctionHandler): Promise<Metafile> {
  let graph = graphs.get(handler);
  if (!graph) graphs.set(handler, (graph = buildGraph(handler)));
  return graph;
}
const graphs = new Map<FunctionHandler, Promise<Metafile>>();

async function buildGraph(handler: FunctionHandler): Promise<Metafile> {
  const out = await build({
    ...FUNCTION_BUILD,
    mainFields: [...FUNCTION_BUILD.mainFields],
    external: [...FUNCTION_BUILD.external],
    entryPoints: { index: handlerEntry(handler) },
    outdir: path.join(REPO_ROOT, 'cdk.out', 'cold-start-test'),
    absWorkingDir: REPO_ROOT,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return out.metafile;
}

/** The entry chunk and the chunks it imports statically (a dynamic `import()` chunk loads on the call that needs it). */
function chunksAtImport(meta: Metafile): string[] {
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
  return [...seen];
}

/** Source files evaluated when the function loads. */
function loadedAtImport(meta: Metafile): string[] {
  return chunksAtImport(meta).flatMap((file) => Object.keys(meta.outputs[file].inputs));
}

describe('control-plane cold start', () => {
  it.each(FUNCTION_HANDLERS)(
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

  // A function's asset hash reads these folders, the lockfile and the bundler (function-source-hash.ts): an input from
  // anywhere else could change a bundle without changing its hash, and a kept cdk.out would deploy the old bundle.
  it.each(FUNCTION_HANDLERS)(
    '%s bundles only sources its asset hash reads (FUNCTION_SOURCE_ROOTS) and packages the lockfile fixes',
    async (handler) => {
      const meta = await bundleGraph(handler);
      const inputs = Object.keys(meta.inputs);
      const outside = inputs.filter(
        (input) =>
          !input.startsWith('node_modules/') && !FUNCTION_SOURCE_ROOTS.some((root) => input.startsWith(`${root}/`)),
      );
      expect(outside).toEqual([]);
      expect(inputs.filter((input) => input.startsWith('runtime/shared/')).length).toBeGreaterThan(0);
    },
    30_000,
  );

  // Issue 15: an ES module import of a Node built-in builds its namespace when the function loads (`node:fs` ~3 ms
  // of a ~40 ms bare start); process.getBuiltinModule does not.
  it.each(FUNCTION_HANDLERS)(
    '%s imports no Node built-in as an ES module at load, nor does the CommonJS shim',
    async (handler) => {
      const meta = await bundleGraph(handler);
      const builtins = chunksAtImport(meta).flatMap((file) =>
        meta.outputs[file].imports
          .filter((imported) => imported.external && imported.kind === 'import-statement')
          .map((imported) => imported.path),
      );
      expect(builtins).toEqual([]);
      // And the bundle does import built-ins, on the first call's chunks (the check above reads real imports).
      const all = Object.values(meta.outputs).flatMap((output) =>
        output.imports.filter((imported) => imported.external && imported.kind === 'import-statement'),
      );
      expect(all.length).toBeGreaterThan(0);
    },
    30_000,
  );

  // Issue 15: from Node 22, node:http's ES module namespace reads http.WebSocket, whose getter loads undici: ~30-60 ms
  // of a traced function's first call on Lambda's Node 24 (the Powertools tracer imports node:http as an ES module).
  // Every import of it resolves to runtime/shared/node-http.ts, the module as process.getBuiltinModule returns it.
  it.each(FUNCTION_HANDLERS)(
    '%s never imports node:http as an ES module; the tracer gets the module itself',
    async (handler) => {
      const meta = await bundleGraph(handler);
      const namespaces = Object.values(meta.outputs).flatMap((output) =>
        output.imports.filter((imported) => imported.external && /^(node:)?http$/.test(imported.path)),
      );
      expect(namespaces).toEqual([]);
      const inputs = Object.entries(meta.inputs);
      const provider = meta.inputs['node_modules/@aws-lambda-powertools/tracer/lib/esm/provider/ProviderService.js'];
      expect(provider, 'every function bundles the tracer').toBeDefined();
      expect(provider.imports.map((imported) => imported.path)).toContain(NODE_HTTP_INPUT);
      // require() of an ES module gets a copy of its names, which a later patch of node:http does not reach: fine for
      // the X-Ray SDK's own requests (sampling rules, the EC2 plugin, unused on Lambda), which should stay untraced;
      // any other CommonJS caller is to be looked at before it joins this list.
      const required = inputs.filter(([, input]) =>
        input.imports.some((imported) => imported.path === NODE_HTTP_INPUT && imported.kind === 'require-call'),
      );
      expect(
        required.map(([file]) => file).filter((file) => !file.startsWith('node_modules/aws-xray-sdk-core/')),
      ).toEqual([]);
    },
    30_000,
  );

  it('the node:http the bundles get is the module itself, and its names are its own values, no getters', () => {
    const real = realHttp as unknown as Record<string, unknown>;
    expect(nodeHttp.default).toBe(real);
    const names = Object.keys(nodeHttp).filter((name) => name !== 'default');
    expect(names).toContain('request');
    for (const name of names) {
      const own = Object.getOwnPropertyDescriptor(real, name);
      expect(own && 'value' in own, `${name} is a plain property of node:http`).toBe(true);
      expect((nodeHttp as Record<string, unknown>)[name], name).toBe(real[name]);
    }
    // What the copy leaves out: the getters, WebSocket among them, which the namespace would have read.
    expect(Object.getOwnPropertyDescriptor(real, 'globalAgent')?.get).toBeTypeOf('function');
    expect(names).not.toContain('globalAgent');
  });

  it('the CommonJS shim imports nothing', () => {
    expect(FUNCTION_BUILD.banner.js).not.toMatch(/\bimport\s*[{*'"\w]/);
    expect(FUNCTION_BUILD.banner.js).toContain("process.getBuiltinModule('node:module')");
  });

  // Issue 15: a cold start of these is at most 1.5x a bare `node`; each of these packages cost ~10 ms of it
  // (zod/mini's schemas, Powertools' logger with node:console and node:crypto, aws-jwt-verify with node:https).
  it.each(FUNCTION_HANDLERS)(
    '%s loads no schema library, logger or JWT library at import time',
    async (handler) => {
      const meta = await bundleGraph(handler);
      const loaded = loadedAtImport(meta);
      expect(Object.keys(meta.inputs).some((input) => input.startsWith('node_modules/@aws-lambda-powertools/'))).toBe(
        true,
      );
      expect(
        loaded.filter((input) => /^node_modules\/(zod|@aws-lambda-powertools|aws-jwt-verify)\//.test(input)),
      ).toEqual([]);
    },
    30_000,
  );

  // An import() chunk exports only the names esbuild knows when bundling: a package that re-exports
  // CommonJS with `export *` (the encryption SDK) loses them there, so such a package is imported
  // through a module that names its exports (runtime/shared/esdk.ts); a CommonJS target would export
  // only `default`.
  it.each(FUNCTION_HANDLERS)(
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

/** The bundles as deployed, run in a fresh node: what a cold start checks, and first calls that end early. */
describe('control-plane bundles, run', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cubicle-cold-start-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const entries = new Map<string, { file: string; meta: Metafile }>();
  const bundled = (handler: FunctionHandler) => {
    if (!entries.has(handler)) {
      const outdir = path.join(dir, handler);
      const meta = bundleFunction(handlerEntry(handler), outdir, { absWorkingDir: REPO_ROOT });
      writeFileSync(path.join(outdir, ROSTER_FILE_NAME), JSON.stringify(DIRECTORY));
      entries.set(handler, { file: handlerFileIn(outdir), meta });
    }
    return entries.get(handler) as { file: string; meta: Metafile };
  };
  const entry = (handler: FunctionHandler) => bundled(handler).file;
  const run = (handler: FunctionHandler, event: unknown, env: Record<string, string> = {}, nodeArgs: string[] = []) =>
    spawnSync(
      process.execPath,
      [
        ...nodeArgs,
        '-e',
        `import(${JSON.stringify(entry(handler))}).then(({ handler }) => {
          const context = { functionName: 'f', memoryLimitInMB: '512', awsRequestId: 'r', invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111111111111:function:f', getRemainingTimeInMillis: () => 30000 };
          return handler(${JSON.stringify(event)}, context); }).then((r) => process.stdout.write('RESULT' + JSON.stringify(r ?? null)), (e) => { console.error(e.message); process.exit(3); });`,
      ],
      {
        env: { PATH: process.env.PATH, ...FUNCTION_ENV, POWERTOOLS_LOG_LEVEL: 'INFO', ...env },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
  const result = (out: ReturnType<typeof run>) => JSON.parse(out.stdout.slice(out.stdout.indexOf('RESULT') + 6));
  /** Powertools writes warnings and errors to stderr, the rest to stdout. */
  const logLines = (out: ReturnType<typeof run>) =>
    `${out.stdout.replace(/RESULT.*$/, '')}\n${out.stderr}`
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('a chunk keeps the CommonJS shim only if its code uses require, __filename or __dirname', () => {
    const outdir = path.dirname(entry('api'));
    const chunks = readdirSync(outdir).filter((file) => file.endsWith('.mjs'));
    const banner = FUNCTION_BUILD.banner.js;
    const shimmed = chunks.filter((file) => readFileSync(path.join(outdir, file), 'utf8').startsWith(banner));
    expect(shimmed.length).toBeGreaterThan(0);
    expect(shimmed.length).toBeLessThan(chunks.length / 2);
    for (const file of chunks) {
      const text = readFileSync(path.join(outdir, file), 'utf8');
      const uses = /\brequire\b|\b__filename\b|\b__dirname\b/.test(
        text.split('\n').slice(banner.split('\n').length).join('\n'),
      );
      expect(text.startsWith(banner), file).toBe(uses);
    }
  });

  it.each(FUNCTION_HANDLERS)(
    '%s loads with the environment the stack sets (its cold start, as the bench times it)',
    (handler) => {
      const out = spawnSync(process.execPath, ['-e', `import(${JSON.stringify(entry(handler))})`], {
        env: { PATH: process.env.PATH, ...FUNCTION_ENV },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(out.stderr).toBe('');
      expect(out.status).toBe(0);
    },
    60_000,
  );

  it('a bad environment or token setting still fails the cold start, naming the variable and never its value', () => {
    const cases: [FunctionHandler, Record<string, string>, RegExp][] = [
      ['api', { CUBICLE_CLUSTER_ARN: 'hunter2' }, /CUBICLE_CLUSTER_ARN must be an ECS cluster ARN/],
      ['api', { CUBICLE_TOKEN_ISSUER: 'http://login.acme.example' }, /CUBICLE_TOKEN_ISSUER must be an https URL/],
      [
        'api',
        { CUBICLE_TOKEN_ISSUER: 'https://login.acme.example' },
        /CUBICLE_TOKEN_ISSUER: not a Cognito user pool issuer/,
      ],
      ['credentials', { CUBICLE_ORIGIN_VERIFY_SECRET_ARN: 'hunter2' }, /must be a Secrets Manager secret ARN/],
      [
        'launcher',
        { CUBICLE_SUBNET_IDS: 'subnet-0aaa,hunter2' },
        /CUBICLE_SUBNET_IDS must be comma-separated subnet ids/,
      ],
      ['task-events', { CUBICLE_IDLE_TIMEOUT_MS: '-1' }, /CUBICLE_IDLE_TIMEOUT_MS must be positive/],
      ['reaper', { CUBICLE_SESSIONS_TABLE: '' }, /CUBICLE_SESSIONS_TABLE must be a DynamoDB table name/],
    ];
    for (const [handler, env, message] of cases) {
      const out = run(handler, {}, env);
      expect(out.status, `${handler} ${JSON.stringify(env)}`).not.toBe(0);
      expect(out.stderr).toMatch(message);
      expect(out.stderr).not.toContain('hunter2');
    }
  }, 120_000);

  it('first calls that end early: a foreign task event dropped, a malformed launch and a device without the origin header refused, each with a log line', () => {
    const foreign = run('task-events', {
      id: 'e1',
      detail: { taskArn: 't', clusterArn: 'arn:aws:ecs:eu-west-1:111111111111:cluster/other', lastStatus: 'RUNNING' },
    });
    expect(foreign.status, foreign.stderr).toBe(0);
    expect(logLines(foreign).map((l) => l.message)).toEqual([
      'ignored a task state event of another cluster or starter',
    ]);
    const launch = run('launcher', {
      userId: 'alice',
      agentId: 'sales',
      sessionId: 'not-a-session',
      taskDefinition: 'x',
    });
    expect(launch.status, launch.stderr).toBe(0);
    expect(result(launch)).toEqual({ outcome: 'refused' });
    expect(logLines(launch).map((l) => l.message)).toEqual(['launch refused: malformed request']);
    // A device connect without CloudFront's header: refused by the origin check, which reads no secret to do so.
    const device = run('relay-device', DEVICE_CONNECT);
    expect(device.status, device.stderr).toBe(0);
    expect(result(device)).toMatchObject({ statusCode: 403, body: expect.stringContaining(REFUSED_MESSAGE) });
    expect(logLines(device).map((l) => l.message)).toEqual([
      'relay connect refused: it did not come through CloudFront',
    ]);
  }, 120_000);

  /**
   * What each first call must not load before its first AWS request, because that request does not need it (the
   * rest loads on the call that does: handlers/lazy.ts `deferred`), and what it must have loaded by then (so the
   * check sees real loads). Each package costs the first call 10-30 ms (npm run bench:control-plane). `refused`: the
   * call makes no request at all and logs a line with these fields instead (what it loaded is read up to its exit).
   */
  const FIRST_REQUEST: Partial<
    Record<FunctionHandler, { event: unknown; loads: string[]; not: string[]; refused?: Record<string, unknown> }>
  > = {
    reaper: {
      event: REAPER_TICK,
      loads: ['@aws-sdk/client-dynamodb', '@aws-sdk/client-ecs'],
      not: ['@aws-sdk/client-lambda', '@aws-sdk/client-kms', '@aws-crypto/'],
    },
    'audit-archive': {
      event: EVENTS_STREAM_INSERT,
      loads: ['@aws-sdk/client-s3'],
      not: ['@aws-sdk/client-sns', '@aws-sdk/client-lambda', '@aws-sdk/client-dynamodb', 'aws-jwt-verify'],
    },
    notifier: {
      event: NOTIFY_REQUEST,
      loads: ['@aws-sdk/client-dynamodb'],
      not: ['@aws-sdk/client-sesv2'],
    },
    // A forged origin header: the check reads the secret's values to compare it.
    'relay-device': {
      event: { ...DEVICE_CONNECT, headers: { [ORIGIN_VERIFY_HEADER]: 'forged' } },
      loads: ['@aws-sdk/client-secrets-manager'],
      not: [
        '@aws-sdk/client-dynamodb',
        '@aws-sdk/client-apigatewaymanagementapi',
        '@aws-sdk/client-kms',
        '@aws-crypto/',
      ],
    },
    'relay-fanout': {
      event: EVENTS_STREAM_INSERT,
      loads: ['@aws-sdk/client-dynamodb'],
      not: ['@aws-sdk/client-apigatewaymanagementapi', '@aws-sdk/client-kms', '@aws-crypto/'],
    },
    // A role that is no pair's task role: refused with a security event before the handler or a client loads.
    'relay-runtime': {
      event: FOREIGN_RUNTIME_CONNECT,
      loads: ['@aws-lambda-powertools/logger'],
      not: ['@aws-sdk/', '@aws-crypto/', 'zod'],
      refused: {
        message: 'relay runtime connect refused',
        security_event: 'relay.runtime.unknown_caller',
        known_role: false,
      },
    },
  };

  it.each(Object.keys(FIRST_REQUEST) as FunctionHandler[])(
    '%s loads only what its first request needs before making it (or refusing without one)',
    (handler) => {
      const { event, loads, not, refused } = FIRST_REQUEST[handler]!;
      const { meta } = bundled(handler);
      const probe = path.join(dir, 'first-request-probe.cjs');
      writeFileSync(probe, FIRST_REQUEST_PROBE_SOURCE);
      const out = run(handler, event, { AWS_ENDPOINT_URL: 'http://127.0.0.1:9' }, ['--require', probe]);
      const lines = out.stderr.split('\n');
      if (refused) {
        expect(out.status, out.stderr.slice(-1500)).toBe(0);
        expect(lines).not.toContain('FIRST REQUEST');
        expect(logLines(out)).toContainEqual(expect.objectContaining(refused));
        expect(result(out)).toMatchObject({ statusCode: 403 });
      } else {
        expect(lines, out.stderr.slice(-1500)).toContain('FIRST REQUEST');
      }
      const end = refused ? lines.length : lines.indexOf('FIRST REQUEST');
      const chunks = lines
        .slice(0, end)
        .filter((line) => line.startsWith('LOADED '))
        .map((line) => path.basename(line.slice('LOADED '.length)));
      const byName = new Map(Object.entries(meta.outputs).map(([file, output]) => [path.basename(file), output]));
      const packages = new Set(
        chunks.flatMap((chunk) =>
          Object.keys(byName.get(chunk)?.inputs ?? {}).map(
            (input) => /^node_modules\/((@[^/]+\/)?[^/]+)/.exec(input)?.[1],
          ),
        ),
      );
      const loaded = (name: string) => [...packages].some((p) => p !== undefined && (p === name || p.startsWith(name)));
      for (const name of loads) expect(loaded(name), `${handler} loads ${name}`).toBe(true);
      for (const name of not) expect(loaded(name), `${handler} does not load ${name}`).toBe(false);
    },
    60_000,
  );
});

/**
 * Preloaded into a first call: writes `LOADED <url>` for each file the module loader loads (a loader hook, which
 * runs before the module does) and `FIRST REQUEST` at the first socket the process opens, then exits.
 */
const FIRST_REQUEST_PROBE_SOURCE = `const { register } = require('node:module');
const { writeSync } = require('node:fs');
register('data:text/javascript,' + encodeURIComponent(
  "import { writeSync } from 'node:fs';" +
  "export async function load(url, context, next) { if (url.startsWith('file:')) writeSync(2, 'LOADED ' + url + '\\\\n'); return next(url, context); }"
));
require('node:net').Socket.prototype.connect = function () { writeSync(2, 'FIRST REQUEST\\n'); process.exit(0); };
`;
