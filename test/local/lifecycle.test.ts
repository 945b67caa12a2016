/**
 * The lifecycle code (wake, reaper, task state events) drives real local agents: the hard cap and the
 * idle timeout stop a supervisor process through the same reaper and task-events code as in AWS, and
 * the supervisor enforces the cap by itself too.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator, type TokenVerifier } from '../../runtime/control-plane/auth';
import { inProcessLauncher } from '../../runtime/control-plane/launcher';
import { ensureAwake, getSession, type LifecycleDeps } from '../../runtime/control-plane/lifecycle';
import { Roster } from '../../runtime/control-plane/roster';
import { RoleDirectory } from '../../runtime/relay/task-roles';
import { rosterDirectory } from '../../lib/constructs/control-plane-roster';
import { reapTick } from '../../runtime/control-plane/reaper';
import { createTaskEventHandler } from '../../runtime/control-plane/task-events';
import { readEvents } from '../../runtime/shared/event-log';
import { agentRoleName, providerSecretName } from '../../runtime/shared/names';
import { pairKey } from '../../runtime/shared/tables';
import { closeServer, listenLoopback } from '../../local/aws/json-server';
import { localAuthorizer } from '../../local/aws/policy';
import { CredentialStore } from '../../local/aws/principals';
import { startDynamo, type LocalDynamo } from '../../local/dynamo/server';
import { localTableNames } from '../../local/dynamo/tables';
import { AgentProcessLauncher } from '../../local/ecs/agent-process';
import { LocalCluster } from '../../local/ecs/cluster';
import { TaskEventBus, taskEventPattern, taskStateEvent } from '../../local/ecs/events';
import { processStart } from '../../local/ecs/processes';
import { createEcsServer } from '../../local/ecs/server';
import { taskDefinitions } from '../../local/ecs/task-definitions';
import { LogSink } from '../../local/logs';
import {
  localRelayChainKey,
  localRelaySealers,
  startLocalRelay,
  type LocalRelay,
  type RelaySealers,
} from '../../local/relay';
import { openEvent } from '../../runtime/shared/sealed-rows';
import { kmsChainKey } from '../../runtime/shared/chain-key';
import { KMSClient } from '@aws-sdk/client-kms';
import { createVaultServer } from '../../local/vault/server';
import { LocalVault } from '../../local/vault/vault';
import { exampleConfig } from '../support/example-config';
import { waitFor } from './support';
import { ACCOUNT } from '../support/account';

const config = exampleConfig();
const CLUSTER = 'arn:aws:ecs:eu-west-1:111111111111:cluster/acme-local';
const tables = localTableNames('acme');
const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
let dir: string;
let dynamo: LocalDynamo;
let servers: Server[];
let cluster: LocalCluster;
let bus: TaskEventBus;
let deps: LifecycleDeps;
let doc: DynamoDBDocumentClient;
let logs: LogSink;
let relay: LocalRelay;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cubicle-lifecycle-'));
  dynamo = await startDynamo(path.join(dir, 'dynamodb'), 'eu-west-1', tables);
  const credentials = new CredentialStore();
  const vault = new LocalVault(path.join(dir, 'vault'), config);
  vault.secrets.put(providerSecretName('acme', 'alice', 'anthropic'), 'zq-local-test-key-123456');
  const vaultServer = createVaultServer(vault, credentials, localAuthorizer('acme'));
  const endpoints = { vault: await listenLoopback(vaultServer), ecs: '' };
  logs = new LogSink(path.join(dir, 'logs'), false);
  const keys = credentials.issue({ kind: 'function', name: 'reaper' });
  doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'eu-west-1', credentials: keys }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  // The runtime relay the supervisors talk to (devices are not part of this test: no token verifies).
  const roster = new Roster(rosterDirectory(config));
  const noDevices: TokenVerifier = { verify: async () => Promise.reject(new Error('no devices here')) };
  relay = await startLocalRelay({
    doc,
    tables,
    auth: new Authenticator(noDevices, roster),
    roles: new RoleDirectory('acme', roster, ACCOUNT),
    accountId: ACCOUNT,
    sealers: (sealers = localRelaySealers({
      vaultEndpoint: endpoints.vault,
      region: 'eu-west-1',
      deployment: 'acme',
      credentials,
    })),
    chain: localRelayChainKey({
      vaultEndpoint: endpoints.vault,
      region: 'eu-west-1',
      credentials,
      keyArn: vault.chainKeyArn,
    }),
    log: logger,
  });
  const launcher = new AgentProcessLauncher({
    region: 'eu-west-1',
    vaultEndpoint: endpoints.vault,
    get ecsEndpoint() {
      return endpoints.ecs;
    },
    workspaces: path.join(dir, 'workspaces'),
    realProviders: false,
    credentials,
    admit: (task, definition, taskKeys) =>
      relay.iam.register({
        ...taskKeys,
        arn: `arn:aws:sts::111111111111:assumed-role/${agentRoleName('acme', definition.userId, definition.agentId)}/${task.taskArn.split('/').pop()}`,
      }),
    logs,
    tuning: { CUBICLE_STOP_GRACE_MS: '1000' },
  });
  bus = new TaskEventBus(taskEventPattern(CLUSTER), (_e, error) => {
    throw error;
  });
  cluster = new LocalCluster(
    CLUSTER,
    taskDefinitions(config, (u) => vault.secretRefs(u), {
      relayUrl: relay.runtimeUrl,
      userKeyArn: (u) => vault.userKeyArn(u),
    }),
    path.join(dir, 'ecs'),
    launcher,
    (task) => bus.publish(taskStateEvent(task, ACCOUNT, 'eu-west-1')),
  );
  const ecsServer = createEcsServer(cluster, credentials, localAuthorizer('acme'));
  endpoints.ecs = await listenLoopback(ecsServer);
  servers = [vaultServer, ecsServer];

  const launcherKeys = credentials.issue({ kind: 'function', name: 'launcher' });
  const ecs = new ECSClient({ endpoint: endpoints.ecs, region: 'eu-west-1', credentials: keys, maxAttempts: 1 });
  deps = {
    doc,
    ecs,
    sessionsTable: tables.sessions,
    eventsTable: tables.events,
    // The audit chain key in the local vault, used as the reaper (an event appender) may.
    chain: kmsChainKey(
      new KMSClient({ endpoint: endpoints.vault, region: 'eu-west-1', credentials: keys, maxAttempts: 1 }),
      vault.chainKeyArn,
    ),
    launch: {
      deployment: 'acme',
      clusterArn: CLUSTER,
      maxTaskDurationMs: config.runtime.maxTaskDuration * 1000,
      idleTimeoutMs: config.runtime.idleTimeout * 1000,
    },
    // The launcher function's code, in process, with the launcher's own credentials (only it may RunTask).
    launcher: inProcessLauncher({
      doc,
      ecs: new ECSClient({ endpoint: endpoints.ecs, region: 'eu-west-1', credentials: launcherKeys, maxAttempts: 1 }),
      sessionsTable: tables.sessions,
      eventsTable: tables.events,
      chain: kmsChainKey(
        new KMSClient({ endpoint: endpoints.vault, region: 'eu-west-1', credentials: launcherKeys, maxAttempts: 1 }),
        vault.chainKeyArn,
      ),
      network: { deployment: 'acme', clusterArn: CLUSTER, subnetIds: ['subnet-0a'], securityGroupIds: ['sg-0a'] },
      now: Date.now,
      log: logger,
    }),
    now: Date.now,
    newSessionId: randomUUID,
    log: logger,
  };
  const onEvent = createTaskEventHandler(deps, logger);
  bus.attach(async (event) => {
    await onEvent(event);
  });
});

afterAll(async () => {
  await cluster.stopAll('test over', 3_000);
  await bus.drain();
  for (const s of servers) await closeServer(s);
  await relay.close();
  await dynamo.close();
  await logs.close();
  rmSync(dir, { recursive: true, force: true });
});

const pk = pairKey('alice', 'sales');
/** The relay's sealers over the local vault: runtime events' data is sealed, and opened as a device would. */
let sealers: RelaySealers;

async function wakeRunning(launch: Partial<LifecycleDeps['launch']> = {}): Promise<{ taskArn: string; pid: number }> {
  const { session } = await ensureAwake(
    { ...deps, launch: { ...deps.launch, ...launch } },
    'alice',
    'sales',
    `req-${Date.now()}`,
  );
  const row = await waitFor(
    async () => {
      const r = await getSession(deps, pk);
      return r?.status === 'RUNNING' && r.sessionId === session.sessionId ? r : undefined;
    },
    30_000,
    'the session to be RUNNING',
  );
  // The supervisor is up once it has recorded its start.
  const started = async () =>
    Promise.all(
      (await readEvents(doc, tables.events, pk))
        .filter((e) => e.type === 'session.started')
        .map((e) => openEvent(sealers.device, e)),
    );
  await waitFor(async () => (await started()).some((e) => e.data.taskArn === row.taskArn), 30_000, 'session.started');
  return { taskArn: row.taskArn!, pid: cluster.find(row.taskArn!)!.pid! };
}

async function reapAt(now: number) {
  // The tick's deadline is on the same (shifted) clock as its now.
  return reapTick({
    ...deps,
    now: () => now,
    deadline: now + 30_000,
    sleepMs: (ms) => new Promise((r) => setTimeout(r, ms)),
    requestId: `reap-${now}`,
  });
}

async function stoppedRow(taskArn: string) {
  return waitFor(
    async () => {
      const r = await getSession(deps, pk);
      return r?.status === 'STOPPED' && r.taskArn === taskArn ? r : undefined;
    },
    30_000,
    'the session to be STOPPED',
  );
}

describe('lifecycle of local agents', () => {
  it('the reaper stops an agent past its hard cap: StopTask, SIGTERM, STOPPED through the task-events handler', async () => {
    const { taskArn, pid } = await wakeRunning();
    const stats = await reapAt(Date.now() + config.runtime.maxTaskDuration * 1000 + 60_000);
    expect(stats).toMatchObject({ active: 1, stopped: 1 });
    const row = await stoppedRow(taskArn);
    expect(row).toMatchObject({ stopReason: 'reached its maximum duration', stopCode: 'UserInitiated', exitCode: 0 });
    expect(processStart(pid)).toBeUndefined();
    // The reaper's record and the supervisor's last event race each other; the STOPPED record comes last.
    const types = await waitFor(
      async () => {
        const all = (await readEvents(doc, tables.events, pk)).map((e) => e.type);
        return all.at(-1) === 'lifecycle.stopped' ? all : undefined;
      },
      30_000,
      'lifecycle.stopped',
    );
    expect(types.slice(-3).sort()).toEqual(['lifecycle.reap', 'lifecycle.stopped', 'session.stopping']);
  });

  it('the reaper stops an idle agent', async () => {
    const { taskArn, pid } = await wakeRunning();
    // Idle for longer than the idle timeout, but well within the hard cap.
    await reapAt(Date.now() + config.runtime.idleTimeout * 1000 + 60_000);
    expect(await stoppedRow(taskArn)).toMatchObject({ stopReason: 'idle beyond the idle timeout' });
    expect(processStart(pid)).toBeUndefined();
  });

  it('the supervisor enforces the cap by itself, and the task-events handler records its exit', async () => {
    const { taskArn } = await wakeRunning({ maxTaskDurationMs: 4_000 });
    const row = await stoppedRow(taskArn);
    expect(row).toMatchObject({ stopCode: 'EssentialContainerExited', exitCode: 0 });
    const stopping = (await readEvents(doc, tables.events, pk)).filter((e) => e.type === 'session.stopping').at(-1);
    expect((await openEvent(sealers.device, stopping!)).data.reason).toBe('deadline');
  });
});
