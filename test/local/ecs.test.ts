/**
 * The ECS stand-in at the protocol level: the control plane's own ECS calls (runtime/control-plane/
 * ecs-calls.ts, real SDK client, SigV4) against the local cluster, whose tasks are real processes here.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DescribeTasksCommand, ECSClient, ListTasksCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeTasks, listStartedTasks, runPairTask, stopTask } from '../../runtime/control-plane/ecs-calls';
import type { TaskNetwork } from '../../runtime/control-plane/env';
import { STARTED_BY } from '../../runtime/shared/names';
import { closeServer, listenLoopback } from '../../local/aws/json-server';
import { localAuthorizer } from '../../local/aws/policy';
import { CredentialStore, type AccessKeys } from '../../local/aws/principals';
import { LocalCluster, type TaskLauncher, type TaskRecord } from '../../local/ecs/cluster';
import { matchesPattern, taskEventPattern, taskStateEvent } from '../../local/ecs/events';
import { processStart } from '../../local/ecs/processes';
import { createEcsServer } from '../../local/ecs/server';
import type { LocalTaskDefinition } from '../../local/ecs/task-definitions';
import { waitFor } from './support';
import { ACCOUNT } from '../support/account';

const CLUSTER = 'arn:aws:ecs:eu-west-1:111111111111:cluster/acme-local';
/** Where the launcher runs tasks (only the launcher function's role may RunTask). */
const LAUNCH: TaskNetwork = {
  deployment: 'acme',
  clusterArn: CLUSTER,
  subnetIds: ['subnet-0a'],
  securityGroupIds: ['sg-0a'],
};
const definition = (userId: string, agentId: string, mode: string): LocalTaskDefinition => ({
  family: `acme-${userId}_${agentId}`,
  arn: `arn:aws:ecs:eu-west-1:111111111111:task-definition/acme-${userId}_${agentId}:1`,
  userId,
  agentId,
  environment: { MODE: mode },
});
const DEFINITIONS = new Map(
  [
    definition('alice', 'polite', 'polite'),
    definition('alice', 'stubborn', 'stubborn'),
    definition('alice', 'crash', 'crash'),
  ].map((d) => [d.family, d]),
);

/**
 * A task process: `polite` exits 0 on SIGTERM; `stubborn` ignores SIGTERM and starts a tool process in a
 * group of its own that ignores it too; `crash` starts such a tool process and exits 3 after 1.5 s.
 */
const TASK_SCRIPT = `
const { spawn } = require('node:child_process');
const mode = process.env.MODE;
const tool = () => { const g = spawn('sh', ['-c', 'trap "" TERM; sleep 1000'], { detached: true, stdio: 'ignore' }); process.stdout.write('tool ' + g.pid + '\\n'); };
if (mode === 'polite') { process.on('SIGTERM', () => process.exit(0)); process.stdout.write('ready\\n'); }
if (mode === 'stubborn') { process.on('SIGTERM', () => undefined); tool(); }
if (mode === 'crash') { tool(); setTimeout(() => process.exit(3), 1500); }
setInterval(() => undefined, 1000);
`;

class ScriptLauncher implements TaskLauncher {
  readonly tools = new Map<string, number>();
  /** Tasks whose script has its SIGTERM handler in place (a loaded machine may take seconds to get there). */
  readonly ready = new Set<string>();
  async start(
    task: TaskRecord,
    def: LocalTaskDefinition,
    exited: (code: number | null, signal: NodeJS.Signals | null) => void,
  ) {
    const child = spawn(process.execPath, ['-e', TASK_SCRIPT], {
      env: { ...def.environment, PATH: process.env.PATH },
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    child.stdout!.on('data', (d: Buffer) => {
      const m = /tool (\d+)/.exec(d.toString());
      if (m) this.tools.set(task.taskArn, Number(m[1]));
      if (d.toString().includes('ready')) this.ready.add(task.taskArn);
    });
    return new Promise<{ pid: number }>((resolve, reject) => {
      child.once('spawn', () => {
        child.once('exit', exited);
        resolve({ pid: child.pid! });
      });
      child.once('error', reject);
    });
  }
  cleanup(): void {}
}

let dir: string;
let server: Server;
let endpoint: string;
let cluster: LocalCluster;
let launcher: ScriptLauncher;
const published: ReturnType<typeof taskStateEvent>[] = [];
const credentials = new CredentialStore();
const clients: ECSClient[] = [];

function client(keys: AccessKeys): ECSClient {
  const c = new ECSClient({ endpoint, region: 'eu-west-1', credentials: keys, maxAttempts: 1 });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cubicle-ecs-'));
  launcher = new ScriptLauncher();
  cluster = new LocalCluster(
    CLUSTER,
    DEFINITIONS,
    dir,
    launcher,
    (task) => published.push(taskStateEvent(task, ACCOUNT, 'eu-west-1')),
    700,
  );
  server = createEcsServer(cluster, credentials, localAuthorizer('acme'));
  endpoint = await listenLoopback(server);
});
afterAll(async () => {
  await cluster.stopAll('test over', 500);
  for (const c of clients) c.destroy();
  await closeServer(server);
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  published.length = 0;
});

const eventsOf = (arn: string) => published.filter((e) => e.detail.taskArn === arn);

describe('ECS stand-in', () => {
  it('runs a pair task for RunTask (idempotent per client token) and stops it for StopTask', async () => {
    const api = client(credentials.issue({ kind: 'function', name: 'launcher' }));
    const reaper = client(credentials.issue({ kind: 'function', name: 'reaper' }));
    const request = { userId: 'alice', agentId: 'polite', sessionId: '00000000-0000-4000-8000-000000000001' };
    const arn = await runPairTask(api, LAUNCH, request);
    expect(arn).toMatch(/^arn:aws:ecs:eu-west-1:111111111111:task\/acme-local\/[0-9a-f]{32}$/);
    expect(await runPairTask(api, LAUNCH, request)).toBe(arn);
    await waitFor(() => eventsOf(arn).some((e) => e.detail.lastStatus === 'RUNNING'), 10_000, 'RUNNING');

    const running = eventsOf(arn)[0];
    expect(matchesPattern(taskEventPattern(CLUSTER), running as unknown as Record<string, unknown>)).toBe(true);
    expect(running.detail).toMatchObject({
      clusterArn: CLUSTER,
      taskDefinitionArn: 'arn:aws:ecs:eu-west-1:111111111111:task-definition/acme-alice_polite:1',
      group: 'cubicle:00000000-0000-4000-8000-000000000001',
      startedBy: STARTED_BY,
      lastStatus: 'RUNNING',
    });
    expect((await listStartedTasks(reaper, CLUSTER)).arns).toEqual([arn]);
    const described = await reaper.send(
      new DescribeTasksCommand({ cluster: CLUSTER, tasks: [arn], include: ['TAGS'] }),
    );
    expect(described.tasks?.[0]).toMatchObject({
      lastStatus: 'RUNNING',
      desiredStatus: 'RUNNING',
      group: running.detail.group,
    });
    expect(described.tasks?.[0].createdAt).toBeInstanceOf(Date);
    expect(described.tasks?.[0].tags).toEqual([
      { key: 'user_id', value: 'alice' },
      { key: 'agent_id', value: 'polite' },
      { key: 'session_id', value: request.sessionId },
    ]);

    const pid = cluster.find(arn)!.pid!;
    await waitFor(() => launcher.ready.has(arn), 10_000, 'SIGTERM handler');
    expect(await stopTask(api, CLUSTER, arn, 'Cubicle: put to sleep by the employee')).toBe(true);
    await waitFor(() => eventsOf(arn).some((e) => e.detail.lastStatus === 'STOPPED'), 10_000, 'STOPPED');
    expect(eventsOf(arn).map((e) => e.detail.lastStatus)).toEqual(['RUNNING', 'STOPPED']);
    expect(eventsOf(arn)[1].detail).toMatchObject({
      stopCode: 'UserInitiated',
      stoppedReason: 'Cubicle: put to sleep by the employee',
      containers: [{ name: 'supervisor', exitCode: 0 }],
    });
    expect(processStart(pid)).toBeUndefined();
    expect((await listStartedTasks(reaper, CLUSTER)).arns).toEqual([]);
    expect((await describeTasks(reaper, CLUSTER, [arn])).tasks[0].lastStatus).toBe('STOPPED');
    // ECS no longer running it is not an error for a stop; an unknown task is "not found" (ecs-calls.ts).
    expect(await stopTask(api, CLUSTER, `${CLUSTER.replace(':cluster/', ':task/')}/${'0'.repeat(32)}`, 'x')).toBe(
      false,
    );
  });

  it('sends SIGTERM, then SIGKILL to every process group of the task after the stop timeout', async () => {
    const api = client(credentials.issue({ kind: 'function', name: 'launcher' }));
    const arn = await runPairTask(api, LAUNCH, {
      userId: 'alice',
      agentId: 'stubborn',
      sessionId: '00000000-0000-4000-8000-000000000002',
    });
    const tool = await waitFor(() => launcher.tools.get(arn), 10_000, 'the tool process');
    // The stand-in records the task's process groups every second.
    await new Promise((r) => setTimeout(r, 1_500));
    const stoppedAt = Date.now();
    await stopTask(api, CLUSTER, arn, 'Cubicle reaper: reached its maximum duration');
    await waitFor(() => eventsOf(arn).some((e) => e.detail.lastStatus === 'STOPPED'), 10_000, 'STOPPED');
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(650);
    expect(eventsOf(arn).at(-1)!.detail.containers[0].exitCode).toBe(137);
    await waitFor(() => processStart(tool) === undefined, 5_000, 'the tool process to be killed');
  });

  it('kills what a task left behind when its process exits by itself', async () => {
    const api = client(credentials.issue({ kind: 'function', name: 'launcher' }));
    const arn = await runPairTask(api, LAUNCH, {
      userId: 'alice',
      agentId: 'crash',
      sessionId: '00000000-0000-4000-8000-000000000003',
    });
    const tool = await waitFor(() => launcher.tools.get(arn), 10_000, 'the tool process');
    await waitFor(() => eventsOf(arn).some((e) => e.detail.lastStatus === 'STOPPED'), 10_000, 'STOPPED');
    expect(eventsOf(arn).at(-1)!.detail).toMatchObject({
      stopCode: 'EssentialContainerExited',
      containers: [{ exitCode: 3 }],
    });
    await waitFor(() => processStart(tool) === undefined, 5_000, 'the orphaned tool process to be killed');
  });

  it('answers only signed requests of principals the stack allows, for its own cluster', async () => {
    const agentKeys = credentials.issue({ kind: 'agent', userId: 'alice', agentId: 'polite', taskArn: 'x' });
    const run = (c: ECSClient, extra: Record<string, unknown> = {}) =>
      c.send(
        new RunTaskCommand({
          cluster: CLUSTER,
          taskDefinition: 'acme-alice_polite',
          networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-0a'] } },
          ...extra,
        }),
      );
    await expect(run(client(agentKeys))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(
      client(credentials.issue({ kind: 'function', name: 'credentials' })).send(
        new ListTasksCommand({ cluster: CLUSTER }),
      ),
    ).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    await expect(run(client({ accessKeyId: agentKeys.accessKeyId, secretAccessKey: 'forged' }))).rejects.toMatchObject({
      name: 'InvalidSignatureException',
    });
    await expect(run(client({ accessKeyId: 'ASIAUNKNOWNKEY000000', secretAccessKey: 'x' }))).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
    });
    const api = client(credentials.issue({ kind: 'function', name: 'launcher' }));
    await expect(run(api, { cluster: 'arn:aws:ecs:eu-west-1:111111111111:cluster/other' })).rejects.toMatchObject({
      name: 'ClusterNotFoundException',
    });
    await expect(
      run(api, {
        overrides: { containerOverrides: [{ name: 'supervisor', environment: [{ name: 'X', value: 'y' }] }] },
      }),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
    await expect(run(api, { taskDefinition: 'acme-bruno_research' })).rejects.toMatchObject({
      name: 'ClientException',
    });
    expect(cluster.list({})).toEqual([]);
  });

  it('serves each task its own metadata (task ARN) at ECS_CONTAINER_METADATA_URI_V4', async () => {
    const api = client(credentials.issue({ kind: 'function', name: 'launcher' }));
    const arn = await runPairTask(api, LAUNCH, {
      userId: 'alice',
      agentId: 'polite',
      sessionId: '00000000-0000-4000-8000-000000000004',
    });
    const task = cluster.find(arn)!;
    const response = await fetch(`${endpoint}/v4/${task.metadataToken}/task`);
    expect(await response.json()).toMatchObject({ TaskARN: arn, Cluster: CLUSTER, Family: 'acme-alice_polite' });
    expect((await fetch(`${endpoint}/v4/${'f'.repeat(32)}/task`)).status).toBe(404);
    await stopTask(api, CLUSTER, arn, 'done');
    await waitFor(() => cluster.find(arn)!.lastStatus === 'STOPPED', 10_000, 'STOPPED');
  });

  it('after a crash, kills the tasks the previous run left and reports them STOPPED', async () => {
    const crashedDir = mkdtempSync(path.join(tmpdir(), 'cubicle-ecs-crash-'));
    const first = new LocalCluster(CLUSTER, DEFINITIONS, crashedDir, new ScriptLauncher(), () => undefined);
    const task = await first.runTask({ family: 'acme-alice_polite', startedBy: STARTED_BY, group: 'cubicle:s' });
    // The first run "crashes": its cluster object is dropped with the process still running.
    const events: string[] = [];
    const second = new LocalCluster(CLUSTER, DEFINITIONS, crashedDir, new ScriptLauncher(), (t) =>
      events.push(`${t.taskArn} ${t.lastStatus} ${t.stopCode}`),
    );
    second.recover();
    expect(events).toEqual([`${task.taskArn} STOPPED EssentialContainerExited`]);
    await waitFor(() => processStart(task.pid!) === undefined, 5_000, 'the leftover process to be killed');
    // (The dropped object still hears its child's exit in this test process; let it finish writing.)
    await waitFor(() => first.find(task.taskArn)?.lastStatus === 'STOPPED', 5_000, 'the first object to see the exit');
    rmSync(crashedDir, { recursive: true, force: true });
  });
});
