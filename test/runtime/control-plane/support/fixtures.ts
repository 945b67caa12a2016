/** Shared fixtures for the control-plane handler tests: roster, launch settings, clock, fakes, events. */
import { Logger } from '@aws-lambda-powertools/logger';
import {
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  type RunTaskCommandOutput,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { LaunchSettings, TaskNetwork } from '../../../../runtime/control-plane/env';
import { inProcessLauncher, type LauncherDeps } from '../../../../runtime/control-plane/launcher';
import type { ApiDeps } from '../../../../runtime/control-plane/api';
import type { HttpEvent } from '../../../../runtime/control-plane/http';
import type { LifecycleDeps } from '../../../../runtime/control-plane/lifecycle';
import type { RecordDeps } from '../../../../runtime/control-plane/records';
import { Roster, type RosterDirectory, type RosterUser } from '../../../../runtime/control-plane/roster';
import { RecordSealer } from '../../../../runtime/shared/envelope';
import { fakeKms } from '../../../support/fake-kms';
import type { TestDynamo } from '../../../support/dynamo';
import { ISSUER } from '../../../support/tokens';
import { TEST_CHAIN } from '../../../support/chain-key';
import { ACCOUNT } from '../../../support/account';

export { ACCOUNT };
export const TEST_CLUSTER_ARN = `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/acme-cluster`;

export const LAUNCH: LaunchSettings & TaskNetwork = {
  deployment: 'acme',
  clusterArn: TEST_CLUSTER_ARN,
  subnetIds: ['subnet-0aaa', 'subnet-0bbb'],
  securityGroupIds: ['sg-0a9e17'],
  maxTaskDurationMs: 2 * 3600_000,
  idleTimeoutMs: 15 * 60_000,
};

export const DIRECTORY: RosterDirectory = {
  identity: { kind: 'cognito' },
  users: [
    {
      id: 'alice',
      email: 'alice@acme.example',
      agents: [
        { id: 'sales', provider: 'anthropic', providerSecret: true, secretConnections: ['crm'] },
        { id: 'finance', provider: 'openai', providerSecret: true, secretConnections: ['bank-feed'] },
      ],
    },
    {
      id: 'bruno',
      email: 'bruno@acme.example',
      agents: [
        { id: 'research', provider: 'bedrock', providerSecret: false, secretConnections: [] },
        { id: 'writer', provider: 'google', providerSecret: true, secretConnections: [] },
      ],
    },
  ],
};

export const ROSTER = new Roster(DIRECTORY);
/** Verifies the fixtures' tokens (test/support/tokens.ts) and maps them to ROSTER. */
export const AUTH = ISSUER.authenticator(ROSTER);

export function taskArnOf(id: string | number): string {
  return `arn:aws:ecs:eu-west-1:${ACCOUNT}:task/acme-cluster/${id}`;
}

export function taskDefinitionArnOf(userId: string, agentId: string, revision = 1): string {
  return `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/acme-${userId}_${agentId}:${revision}`;
}

export class Clock {
  constructor(public t = Date.UTC(2026, 0, 5, 9, 0, 0)) {}
  readonly now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/**
 * ECS faked at the client: RunTask hands out numbered task ARNs unless a test queued another answer
 * in `runTask` (a function per call, consumed in order); other calls answer empty.
 */
export function fakeEcs() {
  const ecs = new ECSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const mock = mockClient(ecs);
  const runTask: Array<() => Promise<RunTaskCommandOutput>> = [];
  let n = 0;
  mock.on(RunTaskCommand).callsFake(async () => {
    const queued = runTask.shift();
    return queued ? queued() : { tasks: [{ taskArn: taskArnOf(`run-${++n}`) }], failures: [] };
  });
  mock.on(StopTaskCommand).resolves({});
  mock.on(ListTasksCommand).resolves({ taskArns: [] });
  mock.on(DescribeTasksCommand).resolves({ tasks: [] });
  return { ecs, mock, runTask };
}

export function silentLogger(): Logger {
  return new Logger({ serviceName: 'test', logLevel: 'SILENT' });
}

let sessionCounter = 0;

/** The rows of one pair's inbox, as stored (consistent read). */
export async function inboxItems(dynamo: TestDynamo, pk: string): Promise<Record<string, any>[]> {
  const out = await dynamo.doc.send(
    new QueryCommand({
      TableName: dynamo.tables.inbox,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ConsistentRead: true,
    }),
  );
  return out.Items ?? [];
}

export function launcherDeps(
  dynamo: TestDynamo,
  ecs: ECSClient,
  clock: Clock,
  logger: Logger = silentLogger(),
): LauncherDeps {
  return {
    // The launcher function's writes, wherever a test wakes a pair in process.
    doc: dynamo.as('launcher'),
    ecs,
    sessionsTable: dynamo.tables.sessions,
    eventsTable: dynamo.tables.events,
    chain: TEST_CHAIN,
    network: LAUNCH,
    now: clock.now,
    log: logger,
  };
}

/** Lifecycle over the launcher in process: a wake's RunTask happens before the wake returns. */
export function lifecycleDeps(
  dynamo: TestDynamo,
  ecs: ECSClient,
  clock: Clock,
  logger: Logger = silentLogger(),
): LifecycleDeps {
  return {
    doc: dynamo.doc,
    ecs,
    sessionsTable: dynamo.tables.sessions,
    eventsTable: dynamo.tables.events,
    chain: TEST_CHAIN,
    launch: LAUNCH,
    launcher: inProcessLauncher(launcherDeps(dynamo, ecs, clock, logger)),
    now: clock.now,
    newSessionId: () => `00000000-0000-4000-8000-${String(++sessionCounter).padStart(12, '0')}`,
    log: logger,
  };
}

/**
 * Users' keys in a KMS faked at the client (test/support/fake-kms.ts), one per roster user, and the
 * sealer the control plane and the runtime use over them.
 */
export function userKeys() {
  const kms = fakeKms();
  const keys = new Map<string, string>();
  const keyArnOf = async (userId: string) => {
    if (!keys.has(userId)) keys.set(userId, kms.createKey(`key-of-${userId}`));
    return keys.get(userId)!;
  };
  return { kms, keyArnOf, sealer: new RecordSealer(kms.client, keyArnOf) };
}

let sharedKeys: ReturnType<typeof userKeys> | undefined;

/** The users' keys recordDeps seals with by default. */
export function sharedUserKeys(): ReturnType<typeof userKeys> {
  return (sharedKeys ??= userKeys());
}

export function recordDeps(
  dynamo: TestDynamo,
  clock: Clock,
  sealer: RecordSealer = sharedUserKeys().sealer,
): RecordDeps {
  return {
    sealer,
    doc: dynamo.doc,
    sessionsTable: dynamo.tables.sessions,
    inboxTable: dynamo.tables.inbox,
    eventsTable: dynamo.tables.events,
    chain: TEST_CHAIN,
    approvalsTable: dynamo.tables.approvals,
    idempotencyTable: dynamo.tables.idempotency,
    now: clock.now,
  };
}

/** The API's dependencies over the test tables: lifecycle through the in-process launcher, records sealed by `sealer`. */
export function apiDeps(
  dynamo: TestDynamo,
  ecs: ECSClient,
  clock: Clock,
  auth: ApiDeps['auth'] = AUTH,
  sealer?: RecordSealer,
): ApiDeps {
  const logger = silentLogger();
  return {
    auth,
    logger,
    lifecycle: lifecycleDeps(dynamo, ecs, clock, logger),
    records: recordDeps(dynamo, clock, sealer),
  };
}

/** The test directory plus one user whose agents are `agents` (a fresh partition per test). */
export function rosterWithUser(userId: string, agents: RosterUser['agents']): Roster {
  return new Roster({
    ...DIRECTORY,
    users: [...DIRECTORY.users, { id: userId, email: `${userId}@acme.example`, agents }],
  });
}

let requestCounter = 0;

export interface EventOptions {
  /** Roster user whose access token goes in the Authorization header; undefined sends none. */
  readonly user?: string;
  /** A bearer token to send instead (another issuer's, a forged one...). */
  readonly token?: string;
  /** Claims API Gateway's authorizer would pass on; the handlers must ignore them. */
  readonly claims?: Record<string, string>;
  readonly pathParameters?: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly body?: unknown;
  readonly rawBody?: string;
}

/** An HTTP API (payload 2.0) event as API Gateway delivers it after the JWT authorizer. */
export function httpEvent(routeKey: string, options: EventOptions = {}): HttpEvent {
  const [method, path] = routeKey.split(' ');
  const token = options.token ?? (options.user ? ISSUER.tokenFor(options.user) : undefined);
  const claims =
    options.claims ??
    (options.user ? { sub: `sub-${options.user}`, username: options.user, token_use: 'access' } : undefined);
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    queryStringParameters: options.query,
    pathParameters: options.pathParameters,
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
    isBase64Encoded: false,
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'api',
      domainName: 'api.example',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.1', userAgent: 'test' },
      requestId: `req-${++requestCounter}`,
      routeKey,
      stage: '$default',
      time: '',
      timeEpoch: 0,
      authorizer: { principalId: '', integrationLatency: 0, jwt: { claims: claims ?? {}, scopes: [] } },
    },
  } as unknown as HttpEvent;
}

/**
 * A complete cold-start environment for every function (runtime/control-plane/env.ts, runtime/relay/env.ts), as
 * the stack sets it: what `npm run bench:control-plane` and the cold-start test load the bundles with. env.test.ts
 * holds it to every function's schema, so a new variable cannot leave the bench failing at load.
 */
export const FUNCTION_ENV = {
  CUBICLE_DEPLOYMENT: 'acme',
  CUBICLE_CLUSTER_ARN: TEST_CLUSTER_ARN,
  CUBICLE_SUBNET_IDS: 'subnet-0aaa,subnet-0bbb',
  CUBICLE_SECURITY_GROUP_IDS: 'sg-0a9e17',
  CUBICLE_MAX_TASK_DURATION_MS: '7200000',
  CUBICLE_IDLE_TIMEOUT_MS: '900000',
  CUBICLE_LAUNCHER_FUNCTION: 'acme-launcher',
  CUBICLE_SESSIONS_TABLE: 'sessions',
  CUBICLE_INBOX_TABLE: 'inbox',
  CUBICLE_EVENTS_TABLE: 'events',
  CUBICLE_APPROVALS_TABLE: 'approvals',
  CUBICLE_IDEMPOTENCY_TABLE: 'idempotency',
  CUBICLE_USAGE_TABLE: 'usage',
  CUBICLE_CHAIN_KEY_ARN: 'arn:aws:kms:eu-west-1:111111111111:key/0f0e0d0c-0b0a-4999-8888-777766665555',
  CUBICLE_TOKEN_KIND: 'cognito',
  CUBICLE_TOKEN_ISSUER: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1',
  CUBICLE_TOKEN_AUDIENCE: 'cubicletestclient',
  CUBICLE_ORIGIN_VERIFY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:OriginVerifySecret-AbCdEf',
  CUBICLE_AUDIT_ARCHIVE_BUCKET: 'acme-audit-archive',
  CUBICLE_SECURITY_EVENTS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111111111111:acme-security-events',
  CUBICLE_NOTIFY_FROM: 'cubicle@acme.example',
  CUBICLE_CONSOLE_URL: 'https://cubicle.acme.example',
  CUBICLE_ACCOUNT: '111111111111',
  CUBICLE_CONNECTIONS_TABLE: 'connections',
  CUBICLE_RELAY_DEVICE_ENDPOINT: 'https://dev0123456.execute-api.eu-west-1.amazonaws.com/v1',
  CUBICLE_RELAY_RUNTIME_ENDPOINT: 'https://run0123456.execute-api.eu-west-1.amazonaws.com/v1',
  AWS_REGION: 'eu-west-1',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: '1',
};

/** EventBridge's once-a-minute tick that drives the reaper. */
export const REAPER_TICK = { 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} };

/** The archiver's asynchronous invoke of the notifier for an event that mails the employee. */
export const NOTIFY_REQUEST = { pk: 'alice#sales', sk: 1, type: 'approval.requested' };

/** A device's `$connect` as API Gateway hands it to the device relay, without CloudFront's origin header. */
export const DEVICE_CONNECT = {
  requestContext: { routeKey: '$connect', connectionId: 'c1', requestId: 'r' },
  headers: {} as Record<string, string>,
};

/** A runtime `$connect` signed by a role that is no pair's task role. */
export const FOREIGN_RUNTIME_CONNECT = {
  requestContext: {
    routeKey: '$connect',
    connectionId: 'c1',
    requestId: 'r',
    identity: { userArn: 'arn:aws:sts::111111111111:assumed-role/someone-else/session' },
  },
};

/** A new Events row as DynamoDB Streams delivers it (new images): the archiver's and the fan-out's input. */
export const EVENTS_STREAM_INSERT = {
  Records: [
    {
      eventName: 'INSERT',
      eventSourceARN: `arn:aws:dynamodb:eu-west-1:111111111111:table/${FUNCTION_ENV.CUBICLE_EVENTS_TABLE}/stream/2026-11-29T00:00:00.000`,
      dynamodb: {
        SequenceNumber: '100',
        NewImage: {
          pk: { S: 'alice#sales' },
          sk: { N: '1' },
          type: { S: 'message.received' },
          at: { N: '1796000000000' },
          requestId: { S: 'r' },
        },
      },
    },
  ],
};
