/**
 * `npm run bench:control-plane`: what the control plane costs.
 *
 * 1. Each function's bundle, built as the stack builds it (lib/constructs/function-bundle.ts): the entry's size
 *    and the whole bundle's, and the cold load time of `import(entry)` in a fresh `node` against a bare `node -e 0` (median of RUNS,
 *    as a ratio); also load + first invocation of every function (FIRST_CALL), as far as its first AWS request, and
 *    beside them the SDK's floor under any such call (FLOORS: one Query from a bundle of the client alone).
 * 2. DynamoDB and ECS calls per wake (and per message, and for the task event that follows), counted at
 *    the SDK client against dynalite on loopback, ECS faked at the client.
 * 3. DynamoDB and ECS calls per reaper tick at 1,000 and 5,000 active sessions, with 10,000 stopped
 *    sessions in the same table (which must cost nothing), 5% of the active ones idle.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ListTasksCommand, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { BatchWriteCommand, type BatchWriteCommandOutput } from '@aws-sdk/lib-dynamodb';
import { FUNCTION_HANDLERS, handlerEntry, REPO_ROOT, type FunctionHandler } from '../lib/constructs/cubicle-function';
import { bundleFunction, FUNCTION_BUILD, handlerFileIn } from '../lib/constructs/function-bundle';
import { createApiHandler } from '../runtime/control-plane/api';
import { ensureAwake, getSession } from '../runtime/control-plane/lifecycle';
import { applyTaskEvent } from '../runtime/control-plane/task-events';
import { reapTick } from '../runtime/control-plane/reaper';
import { ROSTER_FILE_NAME } from '../runtime/control-plane/roster';
import { STARTED_BY } from '../runtime/shared/names';
import { activeShardOf, pairKey } from '../runtime/shared/tables';
import { startDynamo, type TestDynamo } from '../test/support/dynamo';
import {
  TEST_CLUSTER_ARN,
  Clock,
  DEVICE_CONNECT,
  DIRECTORY,
  EVENTS_STREAM_INSERT,
  FOREIGN_RUNTIME_CONNECT,
  NOTIFY_REQUEST,
  REAPER_TICK,
  fakeEcs,
  httpEvent,
  lifecycleDeps,
  recordDeps,
  AUTH,
  FUNCTION_ENV as ENV,
  silentLogger,
  taskArnOf,
  taskDefinitionArnOf,
} from '../test/runtime/control-plane/support/fixtures';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
/**
 * The node the bundles run under. Lambda runs them on Node 24 (FUNCTION_RUNTIME); this machine's node may be older:
 * BENCH_NODE=/path/to/node24 times them under Lambda's major version.
 */
const NODE = process.env.BENCH_NODE || process.execPath;
const NODE_VERSION = spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout.trim();
/** Stands in a first call's event for the address of the listener its requests go to (timeToFirstRequest). */
const LISTENER = 'http://listener.invalid';

/**
 * Each function's first invocation, timed to its first AWS request (the moment it reaches the listener,
 * timeToFirstRequest) or, when the call ends before any (the origin check refuses the caller, the event is foreign,
 * the caller is no Cubicle task), to its exit: what is timed is loading, the lazy imports, building the clients and
 * the request, not a service's latency or the SDK's retries.
 */
const FIRST_CALL: Record<FunctionHandler, unknown> = {
  api: {
    routeKey: 'GET /v1/agents',
    requestContext: { requestId: 'r', authorizer: { jwt: { claims: { username: 'nobody' } } } },
  },
  credentials: {
    routeKey: 'PUT /v1/credentials/{provider}',
    requestContext: { requestId: 'r', authorizer: { jwt: { claims: { username: 'nobody' } } } },
  },
  launcher: { userId: 'alice', agentId: 'sales', sessionId: 'not-a-session' },
  'task-events': {
    id: 'e',
    detail: { taskArn: 't', clusterArn: 'arn:aws:ecs:eu-west-1:111111111111:cluster/other', lastStatus: 'RUNNING' },
  },
  // A stack deletion: no Cognito call; the first request is the response PUT to CloudFormation's URL.
  'directory-sync': {
    RequestType: 'Delete',
    ResponseURL: `${LISTENER}/response`,
    StackId: 'arn:aws:cloudformation:eu-west-1:111111111111:stack/acme-ControlPlane/1',
    RequestId: 'r',
    LogicalResourceId: 'DirectorySync',
    PhysicalResourceId: 'directory-sync-eu-west-1_AbC',
    ResourceType: 'Custom::CubicleDirectorySync',
    ResourceProperties: { ServiceToken: 'x', UserPoolId: 'eu-west-1_AbC' },
  },
  // EventBridge's once-a-minute tick: the first Query of the active sessions.
  reaper: REAPER_TICK,
  // The archive's PutObject of one new event.
  'audit-archive': EVENTS_STREAM_INSERT,
  // The archiver's asynchronous invoke for an event that mails the employee: reads the event.
  notifier: NOTIFY_REQUEST,
  // EventBridge Scheduler's input for a declared schedule (BENCH_DIRECTORY): posts the message.
  'scheduled-run': { scheduleId: 'alice/sales/daily', scheduledTime: '2026-11-30T07:00:00Z' },
  // A device connecting without CloudFront's origin header: refused after the origin check.
  'relay-device': DEVICE_CONNECT,
  // A role that is no Cubicle task's: refused by the role directory, before any table read.
  'relay-runtime': FOREIGN_RUNTIME_CONNECT,
  // One new event to push: the Query of the pair's listeners.
  'relay-fanout': EVENTS_STREAM_INSERT,
};

/** Lambda puts the function role's credentials in the environment; these are fake. */
const FIRST_CALL_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  AWS_SESSION_TOKEN: 'bench',
};

/**
 * Runs `node args` with every SDK client's endpoint (AWS_ENDPOINT_URL) on a loopback listener of its own, which notes
 * the first connection and closes it; resolves with the time to that first request, or to the child's exit (0) if it
 * sends none. A listener per child: a killed child's late connections never reach the next one's.
 */
async function timeToFirstRequest(args: (url: string) => string[]): Promise<number> {
  let onRequest: (() => void) | undefined;
  const server = createServer((socket) => {
    onRequest?.();
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // https, as every AWS endpoint is: the SDK connects through node:https, building its TLS context first, as on Lambda
  // (over http it would take node:http instead). The listener only notes the connection; no handshake is timed.
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const start = performance.now();
    const child = spawn(NODE, args(url), {
      env: { PATH: process.env.PATH, ...ENV, ...FIRST_CALL_CREDENTIALS, AWS_ENDPOINT_URL: url },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const elapsed = await new Promise<number>((resolve, reject) => {
      onRequest = () => {
        onRequest = undefined;
        resolve(performance.now() - start);
        child.kill('SIGKILL');
      };
      void exited.then((code) => {
        if (!onRequest) return; // timed at its request
        onRequest = undefined;
        if (code === 0) resolve(performance.now() - start);
        else reject(new Error(`node ${args(url).join(' ')} exited ${code} before any request: ${stderr.slice(-1500)}`));
      });
    });
    await exited;
    return elapsed;
  } finally {
    server.close();
  }
}

/** The fixtures' roster, with the schedule the scheduled-run function's first call names. */
const BENCH_DIRECTORY = {
  ...DIRECTORY,
  users: DIRECTORY.users.map((user) =>
    user.id !== 'alice'
      ? user
      : {
          ...user,
          agents: user.agents.map((agent) =>
            agent.id !== 'sales'
              ? agent
              : {
                  ...agent,
                  schedules: [{ id: 'daily', text: 'Summarize the day', outbound: 'deny', maxRunMinutes: 30 }],
                },
          ),
        },
  ),
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const table = (rows: Record<string, string | number>[]) => console.table(rows);

/** Bytes of every JavaScript file of a function's bundle (entry and chunks), by handler. */
const totals: Record<string, number> = {};

/**
 * The SDK floors, bundled beside the functions (scripts/bench/sdk-floor*.ts): one DynamoDB Query through a bare client,
 * and through the functions' traced document client. A first call that makes an AWS request cannot go below the first.
 */
const FLOORS = {
  sdk: path.join(REPO_ROOT, 'scripts', 'bench', 'sdk-floor.ts'),
  traced: path.join(REPO_ROOT, 'scripts', 'bench', 'sdk-floor-traced.ts'),
};

function build(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [floor, entry] of Object.entries(FLOORS)) {
    const outdir = path.join(dir, `floor-${floor}`);
    bundleFunction(entry, outdir, { absWorkingDir: REPO_ROOT });
    out[`floor-${floor}`] = handlerFileIn(outdir);
  }
  for (const handler of FUNCTION_HANDLERS) {
    const outdir = path.join(dir, handler);
    const meta = bundleFunction(handlerEntry(handler), outdir, {
      absWorkingDir: REPO_ROOT,
    });
    totals[handler] = Object.entries(meta.outputs)
      .filter(([file]) => file.endsWith('.mjs'))
      .reduce((sum, [, output]) => sum + output.bytes, 0);
    writeFileSync(path.join(outdir, ROSTER_FILE_NAME), JSON.stringify(BENCH_DIRECTORY));
    out[handler] = handlerFileIn(outdir);
  }
  return out;
}

function time(args: string[]): number {
  const start = performance.now();
  const result = spawnSync(NODE, args, { env: { PATH: process.env.PATH, ...ENV }, stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}`);
  return performance.now() - start;
}

interface ColdStart {
  /** `node --version` of the node the bundles ran under (BENCH_NODE). */
  readonly node: string;
  readonly bareMs: number;
  /** Load + one Query from a bundle holding only the SDK's DynamoDB client (FLOORS.sdk). */
  readonly sdkFloorMs: number;
  /** The same through the functions' traced document client (FLOORS.traced). */
  readonly tracedFloorMs: number;
  readonly rows: {
    function: string;
    bundleKiB: number;
    entryKiB: number;
    loadMs: number;
    loadRatio: number;
    firstCallMs: number;
    firstCallRatio: number;
    /** Load + first call ÷ the SDK's floor. */
    firstCallOverSdkFloor: number;
  }[];
}

async function bundles(quiet = false): Promise<ColdStart> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cubicle-bench-cp-'));
  try {
    const files = build(dir);
    const samples: Record<string, { load: number[]; first: number[] }> = {};
    const base: number[] = [];
    const floors: Record<keyof typeof FLOORS, number[]> = { sdk: [], traced: [] };
    for (const h of FUNCTION_HANDLERS) samples[h] = { load: [], first: [] };
    for (let run = 0; run < RUNS; run += 1) {
      base.push(time(['-e', '0']));
      for (const floor of Object.keys(FLOORS) as (keyof typeof FLOORS)[]) {
        const file = JSON.stringify(files[`floor-${floor}`]);
        floors[floor].push(
          await timeToFirstRequest(() => [
            '-e',
            `import(${file}).then((m)=>m.handler()).then(()=>{}, (e)=>{console.error(e);process.exit(1)})`,
          ]),
        );
      }
      for (const h of FUNCTION_HANDLERS) {
        samples[h].load.push(time(['-e', `import(${JSON.stringify(files[h])})`]));
        const call = (url: string) => [
          '-e',
          `const ctx={functionName:'f',memoryLimitInMB:'512',awsRequestId:'r',invokedFunctionArn:'arn:aws:lambda:eu-west-1:111111111111:function:f',getRemainingTimeInMillis:()=>3e4};
            import(${JSON.stringify(files[h])}).then((m)=>m.handler(${JSON.stringify(FIRST_CALL[h]).replaceAll(LISTENER, url)}, ctx)).then(()=>{}, (e)=>{console.error(e);process.exit(1)})`,
        ];
        samples[h].first.push(await timeToFirstRequest(call));
      }
    }
    const bare = median(base);
    const sdkFloor = median(floors.sdk);
    const tracedFloor = median(floors.traced);
    const rows = FUNCTION_HANDLERS.map((h) => {
      const load = median(samples[h].load);
      const first = median(samples[h].first);
      return {
        function: h,
        bundleKiB: Math.round(totals[h] / 1024),
        entryKiB: Math.round(statSync(files[h]).size / 1024),
        loadMs: load,
        loadRatio: load / bare,
        firstCallMs: first,
        firstCallRatio: first / bare,
        firstCallOverSdkFloor: first / sdkFloor,
      };
    });
    const result = { node: NODE_VERSION, bareMs: bare, sdkFloorMs: sdkFloor, tracedFloorMs: tracedFloor, rows };
    if (quiet) return result;
    console.log(
      `\nBundles (esbuild ${FUNCTION_BUILD.target}, ES modules split at each import(), minified, SDK inside) — cold load in a fresh node ${NODE_VERSION}, median of ${RUNS}; bare \`node -e 0\` = ${bare.toFixed(1)} ms (target ratio ≤ 1.5)`,
    );
    table(
      rows.map((row) => ({
        function: row.function,
        'entry KB': row.entryKiB,
        'bundle KB': row.bundleKiB,
        'load ms': Number(row.loadMs.toFixed(1)),
        'load ratio': Number(row.loadRatio.toFixed(2)),
        'load + 1st call ms': Number(row.firstCallMs.toFixed(1)),
        'load + 1st call ratio': Number(row.firstCallRatio.toFixed(2)),
        '÷ SDK floor': Number(row.firstCallOverSdkFloor.toFixed(2)),
      })),
    );
    console.log(
      `SDK floor, load + one DynamoDB Query from a bundle holding only the client (scripts/bench/sdk-floor.ts): ${sdkFloor.toFixed(1)} ms = ${(sdkFloor / bare).toFixed(2)}× bare node; through the functions' traced document client: ${tracedFloor.toFixed(1)} ms = ${(tracedFloor / bare).toFixed(2)}×. A first call that makes a request cannot go below the first.`,
    );
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function ecsCounts(mock: ReturnType<typeof fakeEcs>['mock']) {
  return {
    RunTask: mock.commandCalls(RunTaskCommand).length,
    StopTask: mock.commandCalls(StopTaskCommand).length,
    ListTasks: mock.commandCalls(ListTasksCommand).length,
  };
}

function ddbCounts(dynamo: TestDynamo): string {
  return [...dynamo.calls.entries()]
    .map(([name, n]) => `${name.replace(/Command$/, '')} ${n}`)
    .sort()
    .join(', ');
}

async function perWake(): Promise<void> {
  const dynamo = await startDynamo();
  try {
    const rows: Record<string, string | number>[] = [];
    const measure = async (
      label: string,
      action: (fake: ReturnType<typeof fakeEcs>, clock: Clock) => Promise<unknown>,
      setup?: (fake: ReturnType<typeof fakeEcs>, clock: Clock) => Promise<unknown>,
    ) => {
      const fake = fakeEcs();
      const clock = new Clock();
      await setup?.(fake, clock);
      fake.mock.resetHistory();
      dynamo.reset();
      await action(fake, clock);
      const ecs = ecsCounts(fake.mock);
      rows.push({
        path: label,
        'DynamoDB calls': dynamo.total(),
        'DynamoDB detail': ddbCounts(dynamo),
        RunTask: ecs.RunTask,
        StopTask: ecs.StopTask,
      });
    };
    let n = 0;
    const fresh = () => ({ userId: 'alice', agentId: `bench-${++n}` });
    await measure('wake, agent asleep (the API call)', (fake, clock) => {
      const p = fresh();
      return ensureAwake(lifecycleDeps(dynamo, fake.ecs, clock), p.userId, p.agentId, 'r');
    });
    {
      const p = fresh();
      await measure(
        'wake, agent already running',
        (fake, clock) => ensureAwake(lifecycleDeps(dynamo, fake.ecs, clock), p.userId, p.agentId, 'r2'),
        (fake, clock) => ensureAwake(lifecycleDeps(dynamo, fake.ecs, clock), p.userId, p.agentId, 'r1'),
      );
    }
    {
      const p = fresh();
      let arn = '';
      await measure(
        'task event RUNNING after a wake (async; appends the audit event)',
        (fake, clock) =>
          applyTaskEvent(lifecycleDeps(dynamo, fake.ecs, clock), {
            taskArn: arn,
            clusterArn: TEST_CLUSTER_ARN,
            lastStatus: 'RUNNING',
            startedBy: STARTED_BY,
            taskDefinitionArn: taskDefinitionArnOf(p.userId, p.agentId),
          }),
        async (fake, clock) => {
          const deps = lifecycleDeps(dynamo, fake.ecs, clock);
          await ensureAwake(deps, p.userId, p.agentId, 'r1');
          arn = (await getSession(deps, pairKey(p.userId, p.agentId)))?.taskArn as string;
        },
      );
    }
    await measure('POST message, agent asleep (store + wake)', async (fake, clock) => {
      const api = createApiHandler({
        auth: AUTH,
        logger: silentLogger(),
        lifecycle: lifecycleDeps(dynamo, fake.ecs, clock),
        records: recordDeps(dynamo, clock),
      });
      return api(
        httpEvent('POST /v1/agents/{agentId}/messages', {
          user: 'bruno',
          pathParameters: { agentId: 'writer' },
          body: { text: 'hello' },
        }),
      );
    });
    console.log(
      '\nCalls per wake (target: ≤ 3 DynamoDB calls + 1 RunTask per wake; the task event is a separate, asynchronous invocation)',
    );
    table(rows);
  } finally {
    await dynamo.close();
  }
}

async function seed(dynamo: TestDynamo, items: Record<string, unknown>[]): Promise<void> {
  const chunks: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) chunks.push(items.slice(i, i + 25));
  for (let i = 0; i < chunks.length; i += 8) {
    await Promise.all(
      chunks.slice(i, i + 8).map(async (chunk) => {
        let pending: unknown[] | undefined = chunk.map((Item) => ({ PutRequest: { Item } }));
        while (pending && pending.length > 0) {
          const out: BatchWriteCommandOutput = await dynamo.doc.send(
            new BatchWriteCommand({ RequestItems: { [dynamo.tables.sessions]: pending as never } }),
          );
          pending = out.UnprocessedItems?.[dynamo.tables.sessions];
        }
      }),
    );
  }
}

async function perTick(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  for (const active of [1_000, 5_000]) {
    const dynamo = await startDynamo();
    try {
      const clock = new Clock();
      const now = clock.t;
      const items: Record<string, unknown>[] = [];
      const running: string[] = [];
      for (let i = 0; i < active; i += 1) {
        const pk = pairKey(`u${i}`, 'agent');
        const taskArn = taskArnOf(`t${i}`);
        running.push(taskArn);
        const idle = i % 20 === 0; // 5%
        items.push({
          pk,
          status: 'RUNNING',
          sessionId: `s${i}`,
          requestId: `r${i}`,
          taskArn,
          version: 1,
          activeShard: activeShardOf(pk),
          startedAt: now - 30 * 60_000,
          runningAt: now - 29 * 60_000,
          deadlineAt: now + 60 * 60_000,
          lastActivityAt: idle ? now - 20 * 60_000 : now - 60_000,
        });
      }
      for (let i = 0; i < 10_000; i += 1) {
        items.push({
          pk: pairKey(`z${i}`, 'agent'),
          status: 'STOPPED',
          sessionId: `x${i}`,
          version: 3,
          startedAt: now - 86_400_000,
          deadlineAt: now - 80_000_000,
        });
      }
      await seed(dynamo, items);
      const fake = fakeEcs();
      fake.mock.on(ListTasksCommand).callsFake(async (input: { nextToken?: string }) => {
        const from = Number(input.nextToken ?? '0');
        return {
          taskArns: running.slice(from, from + 100),
          nextToken: from + 100 < running.length ? String(from + 100) : undefined,
        };
      });
      dynamo.reset();
      const started = performance.now();
      const stats = await reapTick({
        ...lifecycleDeps(dynamo, fake.ecs, clock),
        deadline: now + 50_000,
        sleepMs: async () => undefined,
        requestId: 'tick',
      });
      const ms = performance.now() - started;
      const ecs = ecsCounts(fake.mock);
      const queries = dynamo.calls.get('QueryCommand') ?? 0;
      rows.push({
        'active sessions': active,
        'stopped rows (ignored)': 10_000,
        stopped: stats.stopped,
        'DynamoDB calls': dynamo.total(),
        'DynamoDB detail': ddbCounts(dynamo),
        Scan: dynamo.calls.get('ScanCommand') ?? 0,
        'index Query pages': queries - stats.stopped, // the rest are event-chain head reads
        ListTasks: ecs.ListTasks,
        StopTask: ecs.StopTask,
        'tick ms (dynalite)': Math.round(ms),
      });
    } finally {
      await dynamo.close();
    }
  }
  console.log('\nCalls per reaper tick (cost proportional to active sessions; stopped rows are never read)');
  table(rows);
}

async function main(): Promise<void> {
  // `--cold-start-json`: only the bundles' cold starts, as one JSON line (scripts/bench-synth.ts prints them).
  if (process.argv.includes('--cold-start-json')) {
    console.log(JSON.stringify(await bundles(true)));
    return;
  }
  await bundles();
  await perWake();
  await perTick();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
