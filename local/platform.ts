/**
 * Local mode, assembled: the stand-ins at the AWS boundary (DynamoDB, ECS, Secrets Manager + KMS), the
 * control-plane functions in their own processes, the issuer and the front port. Everything listens on
 * 127.0.0.1. `stop()` stops every agent (SIGTERM, then SIGKILL), delivers their STOPPED events, and
 * closes everything in reverse order, so the next start finds consistent state.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createServer, type Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import { rosterDirectory } from '../lib/constructs/control-plane-roster';
import type { CubicleConfig } from '../lib/config/schema';
import { FLUSH_BUDGET_MS } from '../runtime/agent/src/supervisor';
import { Authenticator, createTokenVerifier } from '../runtime/control-plane/auth';
import type { HttpResult } from '../runtime/control-plane/http';
import { Roster } from '../runtime/control-plane/roster';
import { RoleDirectory } from '../runtime/relay/task-roles';
import { agentRoleName } from '../runtime/shared/names';
import { closeServer, listenLoopback } from './aws/json-server';
import { localAuthorizer } from './aws/policy';
import { CredentialStore, FUNCTION_NAMES } from './aws/principals';
import { LocalError, openDataDir } from './data-dir';
import { startDynamo, type LocalDynamo } from './dynamo/server';
import { startStreamProxy } from './dynamo/stream-proxy';
import { localTableNames } from './dynamo/tables';
import { AgentProcessLauncher, LOCAL_AGENT_TUNING } from './ecs/agent-process';
import { LocalCluster } from './ecs/cluster';
import { TaskEventBus, taskEventPattern, taskStateEvent } from './ecs/events';
import { createEcsServer } from './ecs/server';
import { taskDefinitions, localBedrockInvokerArn } from './ecs/task-definitions';
import { openConsoleSite } from './front/console-site';
import { attachFront } from './front/server';
import { jwtAuthorizer } from './front/api-gateway';
import { functionBundles } from './functions/bundle';
import {
  localFunctionEnvironment,
  localLauncherName,
  type LocalEndpoints,
  type VerifierSettings,
} from './functions/environment';
import { FunctionHosts } from './functions/hosts';
import { REAPER_INTERVAL_MS } from './functions/registry';
import { LOCAL_CLIENT_ID, LocalIssuer } from './identity/issuer';
import { ISSUER_PATH } from './identity/routes';
import { createLambdaServer } from './lambda/server';
import { LogSink } from './logs';
import { rosterLimits } from '../runtime/relay/runtime-usage';
import { UsageLedger } from '../runtime/shared/budget';
import { localRelayChainKey, localRelaySealers, startLocalRelay, streamTargets } from './relay';
import { stsHandler } from './sts/server';
import { createVaultServer } from './vault/server';
import { LocalVault } from './vault/vault';
import { RELAY_PATH } from '../runtime/shared/relay-protocol';
import { writeAgentBundles } from '../runtime/agent/build';
import { writeCli } from '../cli/build';

export interface LocalOptions {
  readonly config: CubicleConfig;
  readonly dataDir: string;
  /** 0 for a free port. */
  readonly port: number;
  readonly realProviders: boolean;
  readonly verbose: boolean;
  /** How often the reaper runs (the stack's schedule: every minute). */
  readonly reaperIntervalMs?: number;
  /** Extra agent tuning variables (tests shorten timings). */
  readonly agentTuning?: Readonly<Record<string, string>>;
}

export interface LocalPlatform {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  stop(): Promise<void>;
  /** SIGKILL to every agent process, for a second Ctrl-C. */
  kill(): void;
  /** Drops every device connection to the relay (as a network drop would); returns how many. For tests of reconnect-and-resume. */
  dropDevices(): number;
}

export async function startLocal(options: LocalOptions): Promise<LocalPlatform> {
  const { config } = options;
  const data = openDataDir(options.dataDir);
  const logs = new LogSink(data.path('logs'), options.verbose);
  const cleanup: Array<() => Promise<void> | void> = [() => data.release(), () => logs.close()];
  const teardown = async () => {
    for (const step of cleanup.reverse()) await Promise.resolve(step()).catch(() => undefined);
  };
  try {
    // What an agent's container runs and the CLI the README points at: built here, never committed (like the console).
    writeAgentBundles();
    writeCli();
    const bundles = functionBundles();
    bundles.catch(() => undefined);
    const credentials = new CredentialStore();
    const authorizer = localAuthorizer(config.name);
    const vault = new LocalVault(data.path('vault'), config);
    const tableNames = localTableNames(config.name);
    const dynamo: LocalDynamo = await startDynamo(data.path('dynamodb'), config.region, tableNames);
    cleanup.push(() => dynamo.close());

    const front = createServer();
    const url = await listen(front, options.port);
    cleanup.push(() => closeServer(front));
    const roster = rosterDirectory(config);
    const issuer = await LocalIssuer.open(data.path('issuer'), `${url}${ISSUER_PATH}`, roster);
    const verifier: VerifierSettings = {
      issuer: issuer.issuer,
      audience: LOCAL_CLIENT_ID,
      jwksUri: `${issuer.issuer}/jwks.json`,
      jwks: issuer.jwks(),
    };

    // DynamoDB Streams stand-in in front of dynalite: every local writer's Events and Inbox rows reach the
    // relay's fan-out (set once the relay is up; nothing writes before that).
    let fanout: ReturnType<typeof streamTargets> | undefined;
    const fanoutError = (error: unknown) => logs.line('relay fan-out failed', { error: (error as Error).message });
    const streams = await startStreamProxy(dynamo.endpoint, {
      eventsTable: tableNames.events,
      inboxTable: tableNames.inbox,
      onEvents: async (rows) => fanout?.onEvents(rows),
      onInbox: async (pairs) => fanout?.onInbox(pairs),
      onError: fanoutError,
    });
    cleanup.push(() => streams.close());

    // Secrets Manager and KMS: before the relay, whose functions seal and open records under the user keys.
    // STS on the same port: Bedrock agents' supervisors assume the model invoker role for their CLI.
    const invokerRoleArn = config.providers.includes('bedrock') ? localBedrockInvokerArn(config) : undefined;
    const bedrockAgents = new Set(
      config.users.flatMap((u) => u.agents.filter((a) => a.provider === 'bedrock').map((a) => `${u.id}#${a.id}`)),
    );
    const sts = stsHandler({
      credentials,
      invokerRoleArn,
      isBedrockAgent: (userId, agentId) => bedrockAgents.has(`${userId}#${agentId}`),
    });
    const vaultServer = createVaultServer(vault, credentials, authorizer, sts);
    const vaultEndpoint = await listenLoopback(vaultServer);
    cleanup.push(() => closeServer(vaultServer));

    // The relay in this process: the same device, runtime and fan-out handlers, on the local ws adapter.
    const relayDoc = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: streams.endpoint,
        region: config.region,
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      }),
      { marshallOptions: { removeUndefinedValues: true } },
    );
    const relay = await startLocalRelay({
      doc: relayDoc,
      tables: tableNames,
      auth: new Authenticator(
        createTokenVerifier(
          { kind: 'oidc', issuer: verifier.issuer, audience: [verifier.audience] },
          { jwks: verifier.jwks as never },
        ),
        new Roster(roster),
      ),
      roles: new RoleDirectory(config.name, new Roster(roster), config.account),
      budgets: { ledger: new UsageLedger(relayDoc, tableNames.usage), limitsOf: rosterLimits(new Roster(roster)) },
      accountId: config.account,
      attachStream: false,
      sealers: localRelaySealers({ vaultEndpoint, region: config.region, deployment: config.name, credentials }),
      chain: localRelayChainKey({ vaultEndpoint, region: config.region, credentials, keyArn: vault.chainKeyArn }),
      log: relayLog(logs),
      onFanoutError: fanoutError,
    });
    cleanup.push(() => relay.close());
    fanout = streamTargets(relay.fanout, tableNames, fanoutError);

    const clusterArn = `arn:aws:ecs:${config.region}:${config.account}:cluster/${config.name}-local`;
    const bus = new TaskEventBus(taskEventPattern(clusterArn), (event, error) =>
      logs.line('task state event not delivered', { task_arn: event.detail.taskArn, error: error.message }),
    );
    const endpoints: { -readonly [K in keyof LocalEndpoints]: string } = {
      dynamodb: streams.endpoint,
      ecs: '',
      vault: vaultEndpoint,
      lambda: '',
    };
    const launcher = new AgentProcessLauncher({
      region: config.region,
      get vaultEndpoint() {
        return endpoints.vault;
      },
      get ecsEndpoint() {
        return endpoints.ecs;
      },
      workspaces: data.path('workspaces'),
      realProviders: options.realProviders,
      credentials,
      // The task's role session, as the runtime relay's IAM check knows it (assumed-role/<role>/<task id>).
      admit: (task, definition, keys) =>
        relay.iam.register({
          ...keys,
          arn: `arn:aws:sts::${config.account}:assumed-role/${agentRoleName(config.name, definition.userId, definition.agentId)}/${task.taskArn.split('/').pop()}`,
        }),
      logs,
      tuning: options.agentTuning,
    });
    const definitions = taskDefinitions(config, (userId) => vault.secretRefs(userId), {
      relayUrl: relay.runtimeUrl,
      userKeyArn: (userId) => vault.userKeyArn(userId),
      bedrockRoleArn: invokerRoleArn,
    });
    const cluster = new LocalCluster(clusterArn, definitions, data.path('ecs'), launcher, (task) =>
      bus.publish(taskStateEvent(task, config.account, config.region)),
    );
    cluster.recover();
    const ecsServer = createEcsServer(cluster, credentials, authorizer);
    endpoints.ecs = await listenLoopback(ecsServer);
    cleanup.push(() => closeServer(ecsServer));
    let hostsReady: FunctionHosts | undefined;
    const lambdaServer = createLambdaServer({
      credentials,
      authorizer,
      functions: { launcher: localLauncherName(config.name) },
      invoke: async (fn, event) => {
        if (!hostsReady) throw new Error('the functions are not running yet');
        return hostsReady.invoke(fn, event);
      },
      log: (message, fields) => logs.line(message, fields),
    });
    endpoints.lambda = await listenLoopback(lambdaServer);
    cleanup.push(() => closeServer(lambdaServer));
    const home = data.path('functions', '.home');
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const hosts = new FunctionHosts({
      bundles: await bundles,
      dir: data.path('functions'),
      roster,
      logs,
      env: (name) =>
        localFunctionEnvironment(name, {
          config,
          tableNames,
          clusterArn,
          originSecretArn: vault.originSecretArn,
          chainKeyArn: vault.chainKeyArn,
          endpoints,
          verifier,
          home,
          keys: credentials.issue({ kind: 'function', name }),
          verbose: options.verbose,
        }),
    });
    cleanup.push(() => hosts.stop());
    await hosts.start();
    hostsReady = hosts;
    bus.attach(async (event) => {
      await hosts.invoke('task-events', event);
    });

    // The stack's schedule invokes the reaper every minute; a tick never overlaps the previous one.
    let ticking: Promise<unknown> | undefined;
    const reaper = setInterval(() => {
      ticking ??= hosts
        .invoke('reaper', scheduledEvent(config.account, config.region))
        .catch((error: Error) => logs.line('reaper tick failed', { error: error.message }))
        .finally(() => (ticking = undefined));
    }, options.reaperIntervalMs ?? REAPER_INTERVAL_MS);
    reaper.unref();

    attachFront(front, {
      issuer,
      console: openConsoleSite(data.path('console'), issuer.issuer),
      authorizer: jwtAuthorizer(issuer.issuer, LOCAL_CLIENT_ID, issuer.jwks()),
      account: config.account,
      invoke: async (fn, event) => (await hosts.invoke(fn, event)) as HttpResult,
      originHeaderValue: () => vault.originHeaderValue(),
      // Devices reach the relay on the console's origin, as through CloudFront.
      upgrades: { [RELAY_PATH]: (req, socket, head) => relay.adapter.handleUpgrade(req, socket, head) },
      log: (message, fields) => logs.line(message, fields),
    });
    logs.line('ready', { url, functions: FUNCTION_NAMES.length, agents: definitions.size });

    const agentStopMs =
      Number(options.agentTuning?.CUBICLE_STOP_GRACE_MS ?? LOCAL_AGENT_TUNING.CUBICLE_STOP_GRACE_MS) +
      FLUSH_BUDGET_MS +
      1_000;
    let stopped: Promise<void> | undefined;
    return {
      url,
      stop: () =>
        (stopped ??= (async () => {
          clearInterval(reaper);
          // A server's close waits for every socket it accepted, upgraded ones too: devices (an open
          // console tab, `cubicle tail`) are dropped here, or stopping would wait for them forever.
          const frontClosed = closeServer(front);
          relay.adapter.drop(RELAY_PATH);
          await frontClosed;
          await ticking;
          await cluster.stopAll('Cubicle local mode is stopping', agentStopMs);
          await bus.drain();
          await teardown();
        })()),
      kill: () => cluster.killAll(),
      dropDevices: () => relay.adapter.drop(RELAY_PATH),
    };
  } catch (error) {
    await teardown();
    throw error;
  }
}

/** The relay's log lines, in local mode's log (never message bodies or tokens: the handlers log ids only). */
function relayLog(logs: LogSink) {
  const line = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    logs.line(`relay ${level}: ${message}`, fields);
  return { info: line('info'), warn: line('warn'), error: line('error') } as never;
}

async function listen(server: Server, port: number): Promise<string> {
  try {
    return await listenLoopback(server, port);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new LocalError(
        `port ${port} is already in use on 127.0.0.1; pass another with --port N (0 picks a free one)`,
      );
    throw error;
  }
}

/** What an EventBridge schedule sends its target. */
function scheduledEvent(account: string, region: string) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account,
    time: new Date().toISOString(),
    region,
    resources: [`arn:aws:events:${region}:${account}:rule/cubicle-local-reaper`],
    detail: {},
  };
}
