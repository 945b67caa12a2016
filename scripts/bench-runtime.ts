/**
 * `npm run bench:runtime`: how long an agent task takes from spawn to "ready" in the task definition's
 * layout — the supervisor (the bundle the image runs) and the workbench daemon as two processes with
 * separate environments — against a bare `node` start, and how much memory each holds at rest.
 *
 * AWS is faked: the runtime relay is the local one (test/runtime/relay/support/relay-env.ts: dynalite, the real
 * handlers, the IAM stand-in for the task's credentials); Secrets Manager is a minimal local endpoint for
 * GetSecretValue (the bundle carries its own SDK copy, so it cannot be mocked in-process); KMS is not
 * reachable (the supervisor only warms its data key, which is not on the path to "ready"). The task metadata endpoint
 * ECS gives every container (the supervisor reads its task ARN there) is the agent tests' stand-in.
 *
 * BENCH_NODE=/path/to/node runs everything (the bare start, the workbench, the supervisor) under that node: the image
 * runs Node 22, whose compile cache the image fills at build time (Dockerfile); the bench fills one the same way
 * (build.ts COMPILE_CACHED) and hands it to the supervisor, unless BENCH_COMPILE_CACHE=0 or the node has none.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startRelayEnv, type RelayEnv } from '../test/runtime/relay/support/relay-env';
import { startTaskEndpoint } from '../test/runtime/agent/fixtures/task-endpoint';
import { buildSync } from 'esbuild';
import { COMMON, COMPILE_CACHED, DIST_DIR, writeAgentBundles } from '../runtime/agent/build';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const NODE = process.env.BENCH_NODE || process.execPath;
const REPO = path.join(__dirname, '..');
const ENTRYPOINT = path.join(REPO, 'runtime', 'agent', 'dist', 'entrypoint.cjs');
const WORKBENCH = path.join(REPO, 'runtime', 'agent', 'dist', 'workbench.cjs');
// dist/ is build output, not committed: measure what the current sources build to.
writeAgentBundles();
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:bench-provider-AbCdEf';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function fakeSecretsManager(): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (target !== 'secretsmanager.GetSecretValue') {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'InvalidRequestException', message: target }));
        return;
      }
      const { SecretId } = JSON.parse(body) as { SecretId: string };
      res.end(
        JSON.stringify({ ARN: SecretId, Name: 'bench', SecretString: 'bench-api-key-0123456789', VersionId: 'v1' }),
      );
    });
  });
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Spawns a process and resolves when its stdout carries a line matching `ready`. */
function timeToLine(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: (line: string) => boolean,
  started = performance.now(),
) {
  return new Promise<{ ms: number; pid: number; stop: () => Promise<void> }>((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let buffer = '';
    let stderr = '';
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      buffer += d;
      for (const line of buffer.split('\n').slice(0, -1)) {
        if (ready(line)) {
          const ms = performance.now() - started;
          child.stdout.removeAllListeners('data');
          child.stdout.resume();
          return resolve({
            ms,
            pid: child.pid!,
            stop: async () => {
              child.kill('SIGTERM');
              await exited;
            },
          });
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before ready:\n${buffer}${stderr}`)));
  });
}

function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  return kb / 1024;
}

/**
 * The relay's steps alone (scripts/bench/relay-floor.ts, bundled as the supervisor is): a fresh session, one process
 * that connects, claims and appends session.started. No supervisor can be ready sooner in this bench.
 */
async function relayFloor(relay: RelayEnv, run: string, base: NodeJS.ProcessEnv, bundle: string) {
  const env = withTaskCredentials(base, await relay.runningSession('bench', run));
  return timeToLine(NODE, [bundle], env, (l) => l === 'ready');
}

/** A fresh session's task role credentials, as ECS would hand them to the task's processes. */
function withTaskCredentials(
  base: NodeJS.ProcessEnv,
  task: Awaited<ReturnType<RelayEnv['runningSession']>>,
): NodeJS.ProcessEnv {
  return {
    ...base,
    AWS_ACCESS_KEY_ID: task.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: task.credentials.secretAccessKey,
    AWS_SESSION_TOKEN: task.credentials.sessionToken,
  };
}

/** One task: a fresh session for a new pair, the supervisor and the workbench; resolves at "ready". */
async function startTask(relay: RelayEnv, run: string, base: NodeJS.ProcessEnv, root: string) {
  const dir = path.join(root, run);
  const env: NodeJS.ProcessEnv = {
    ...withTaskCredentials(base, await relay.runningSession('bench', run)),
    CUBICLE_AGENT_ID: run,
    CUBICLE_RUN_DIR: path.join(dir, 'supervisor'),
    CUBICLE_EXCHANGE_DIR: path.join(dir, 'exchange'),
  };
  const workbenchEnv = {
    PATH: process.env.PATH,
    NODE_NO_WARNINGS: '1',
    CUBICLE_EXCHANGE_DIR: env.CUBICLE_EXCHANGE_DIR,
    CUBICLE_RUN_DIR: path.join(dir, 'workbench'),
    CUBICLE_SKILLS_SOURCE: base.CUBICLE_SKILLS_SOURCE,
  };
  const started = performance.now();
  const workbench = spawn(NODE, [WORKBENCH], { env: workbenchEnv, stdio: 'ignore' });
  const supervisor = await timeToLine(NODE, [ENTRYPOINT], env, (l) => l.includes('"msg":"ready"'), started);
  return { ...supervisor, workbench };
}

async function main(): Promise<void> {
  const relay = await startRelayEnv();
  const sm = fakeSecretsManager();
  const smUrl = await listen(sm);
  const metadata = await startTaskEndpoint('arn:aws:ecs:us-east-1:111111111111:task/acme-cluster/bench');
  const root = mkdtempSync(path.join(tmpdir(), 'cubicle-bench-'));
  const compileCache = fillCompileCache(path.join(root, 'compile-cache'));
  const floorBundle = path.join(root, 'relay-floor.cjs');
  buildSync({ ...COMMON, entryPoints: [path.join(__dirname, 'bench', 'relay-floor.ts')], outfile: floorBundle });
  const env: NodeJS.ProcessEnv = {
    ...(compileCache.dir ? { NODE_COMPILE_CACHE: compileCache.dir } : {}),
    PATH: process.env.PATH,
    NODE_NO_WARNINGS: '1',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: smUrl,
    AWS_ENDPOINT_URL_KMS: 'http://127.0.0.1:9',
    ECS_CONTAINER_METADATA_URI_V4: metadata.injected.ECS_CONTAINER_METADATA_URI_V4,
    CUBICLE_DEPLOYMENT: 'acme',
    CUBICLE_USER_ID: 'bench',
    CUBICLE_PROVIDER: 'anthropic',
    CUBICLE_OUTBOUND_POLICY: 'confirm',
    CUBICLE_SKILLS: 'crm-notes@1.2.0',
    CUBICLE_CONNECTIONS: '[]',
    CUBICLE_PROVIDER_SECRET_ARN: SECRET_ARN,
    CUBICLE_USER_KEY_ARN: 'arn:aws:kms:us-east-1:111111111111:key/bench',
    CUBICLE_RELAY_URL: relay.runtimeUrl,
    CUBICLE_MAX_TASK_DURATION_MS: '600000',
    CUBICLE_IDLE_TIMEOUT_MS: '600000',
    CUBICLE_WORKSPACE: root,
    CUBICLE_SKILLS_SOURCE: path.join(REPO, 'runtime', 'agent', 'skills'),
  };

  const bare: number[] = [];
  const floor: number[] = [];
  const agent: number[] = [];
  const supervisorRss: number[] = [];
  const workbenchRss: number[] = [];
  try {
    // One warm-up each (file cache), not counted.
    await (await timeToLine(NODE, ['-e', 'console.log("ready")'], env, (l) => l === 'ready')).stop();
    const warm = await startTask(relay, 'warm-up', env, root);
    await warm.stop();
    await (await relayFloor(relay, 'warm-up-floor', env, floorBundle)).stop();
    for (let i = 0; i < RUNS; i += 1) {
      const b = await timeToLine(NODE, ['-e', 'console.log("ready")'], env, (l) => l === 'ready');
      bare.push(b.ms);
      await b.stop();
      const f = await relayFloor(relay, `floor${i}`, env, floorBundle);
      floor.push(f.ms);
      await f.stop();
      const a = await startTask(relay, `run${i}`, env, root);
      agent.push(a.ms);
      await new Promise((r) => setTimeout(r, 1_000)); // at rest: an empty inbox, a connected relay
      supervisorRss.push(rssMiB(a.pid));
      workbenchRss.push(rssMiB(a.workbench.pid!));
      await a.stop();
      await exitOf(a.workbench);
    }
  } finally {
    await relay.close();
    await new Promise<void>((r) => sm.close(() => r()));
    await metadata.close();
    rmSync(root, { recursive: true, force: true });
  }

  const row = (label: string, values: number[], unit: string) =>
    `${label.padEnd(40)} median ${quantile(values, 0.5).toFixed(1).padStart(7)} ${unit}   p90 ${quantile(values, 0.9).toFixed(1).padStart(7)} ${unit}`;
  const total = supervisorRss.map((v, i) => v + workbenchRss[i]);
  const ratio = quantile(agent, 0.5) / quantile(bare, 0.5);
  console.log(
    `runs: ${RUNS} (node ${compileCache.version} at ${NODE}, ${process.platform}/${process.arch}); layout: supervisor + workbench, two processes`,
  );
  console.log(`compile cache: ${compileCache.status}`);
  console.log(row('bare node start → first line', bare, 'ms'));
  console.log(row('relay steps alone → ready', floor, 'ms'));
  console.log(row('task start (both processes) → ready', agent, 'ms'));
  console.log(`${'start-to-ready ratio (median)'.padEnd(40)} ${ratio.toFixed(2)}×`);
  console.log(
    `${'relay steps alone ÷ bare node (median)'.padEnd(40)} ${(quantile(floor, 0.5) / quantile(bare, 0.5)).toFixed(2)}×   (connect, claim, session.started: the least any supervisor waits here)`,
  );
  console.log(
    `${'start-to-ready ÷ relay steps alone'.padEnd(40)} ${(quantile(agent, 0.5) / quantile(floor, 0.5)).toFixed(2)}×   (what the supervisor adds to the least it waits)`,
  );
  console.log(row('supervisor RSS at rest', supervisorRss, 'MiB'));
  console.log(row('workbench daemon RSS at rest', workbenchRss, 'MiB'));
  console.log(row('task RSS at rest (both)', total, 'MiB'));
  console.log(
    JSON.stringify({
      runs: RUNS,
      layout: 'supervisor+workbench',
      node: compileCache.version,
      compileCache: compileCache.dir !== undefined,
      bareMedianMs: quantile(bare, 0.5),
      relayFloorMedianMs: quantile(floor, 0.5),
      readyMedianMs: quantile(agent, 0.5),
      ratio,
      supervisorRssMedianMiB: quantile(supervisorRss, 0.5),
      workbenchRssMedianMiB: quantile(workbenchRss, 0.5),
      taskRssMedianMiB: quantile(total, 0.5),
    }),
  );
}

/** Fills a compile cache as the image's build does (Dockerfile), if this node has one and BENCH_COMPILE_CACHE allows. */
function fillCompileCache(dir: string): { dir?: string; version: string; status: string } {
  const version = execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim();
  const supported = execFileSync(NODE, ['-p', "typeof require('node:module').enableCompileCache"], {
    encoding: 'utf8',
  }).trim();
  if (supported !== 'function') return { version, status: `none (node ${version} has no module compile cache)` };
  if (process.env.BENCH_COMPILE_CACHE === '0') return { version, status: 'off (BENCH_COMPILE_CACHE=0)' };
  execFileSync(
    NODE,
    [
      '-e',
      'for (const file of process.argv.slice(1)) require(file)',
      ...COMPILE_CACHED.map((f) => path.join(DIST_DIR, f)),
    ],
    { env: { PATH: process.env.PATH, NODE_COMPILE_CACHE: dir }, stdio: 'ignore' },
  );
  return { dir, version, status: `on, filled as the image's build fills it (${COMPILE_CACHED.join(', ')})` };
}

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

void main().catch((error) => {
  console.error(error);
  process.exit(1);
});
