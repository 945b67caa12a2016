/**
 * The relay as it runs locally, for tests: dynalite with every control-plane table, the real device,
 * runtime and fan-out handlers behind the local `ws` adapter (local/relay/), the @connections API they
 * post through with the real SDK client, the stream stand-in, and the IAM stand-in for task identities.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { ensureAwake, getSession } from '../../../../runtime/control-plane/lifecycle';
import { Roster } from '../../../../runtime/control-plane/roster';
import { RoleDirectory } from '../../../../runtime/relay/task-roles';
import type { FanoutDeps } from '../../../../runtime/relay/fanout';
import { LOCAL_RUNTIME_PATH, startLocalRelay, type IamStandIn, type RelayAdapter } from '../../../../local/relay';
import { agentRoleName } from '../../../../runtime/shared/names';
import type { AwsCredentials } from '../../../../runtime/shared/sigv4-connect';
import { pairKey } from '../../../../runtime/shared/tables';
import { startDynamo, type TestDynamo } from '../../../support/dynamo';
import { ACCOUNT, Clock, DIRECTORY, fakeEcs, lifecycleDeps } from '../../control-plane/support/fixtures';
import { ISSUER } from '../../../support/tokens';
import { fakeKms } from '../../../support/fake-kms';
import { RecordSealer } from '../../../../runtime/shared/envelope';
import { openApproval, openEvent, type StoredApprovalRow } from '../../../../runtime/shared/sealed-rows';
import type { ApprovalRow, EventRow } from '../../../../runtime/shared/rows';
import { TEST_CHAIN } from '../../../support/chain-key';

/**
 * Users' keys for the relay's records: the fake-KMS keys (`key-of-<user>`, us-east-1) the agent tests'
 * runtimes and their inbox sealer use too (test/runtime/agent/helpers.ts).
 */
export const relaySealer = new RecordSealer(
  fakeKms('us-east-1').client,
  async (userId) => `arn:aws:kms:us-east-1:111111111111:key/key-of-${userId}`,
);

/** Event rows as the employee reads them (data opened), from rows as stored. */
export const opened = (rows: readonly EventRow[]): Promise<EventRow[]> =>
  Promise.all(rows.map((row) => openEvent(relaySealer, row)));
/** Approval rows as the employee reads them (summary and hosts opened). */
export const openedApprovals = (rows: readonly StoredApprovalRow[]): Promise<ApprovalRow[]> =>
  Promise.all(rows.map((row) => openApproval(relaySealer, row)));

export const DEVICE_PATH = '/v1/relay';
export const RUNTIME_PATH = LOCAL_RUNTIME_PATH;
/** The fixtures' roster plus carol, whose agents give tests fresh pairs. */
export const ROSTER = new Roster({
  ...DIRECTORY,
  users: [
    ...DIRECTORY.users,
    {
      id: 'carol',
      email: 'carol@acme.example',
      agents: ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'].map((id) => ({
        id,
        provider: 'anthropic',
        providerSecret: true,
        secretConnections: [],
      })),
    },
  ],
});

export interface Task {
  readonly userId: string;
  readonly agentId: string;
  readonly pair: string;
  readonly taskId: string;
  readonly sessionId: string;
  readonly credentials: AwsCredentials;
}

export interface RelayEnv {
  readonly dynamo: TestDynamo;
  readonly adapter: RelayAdapter;
  readonly iam: IamStandIn;
  readonly fanout: FanoutDeps;
  readonly deviceUrl: string;
  readonly runtimeUrl: string;
  readonly errors: unknown[];
  /** The relay's warnings, as `{ msg, ...fields }` (security log lines). */
  readonly warnings: Record<string, unknown>[];
  /** Wakes a pair for real (lifecycle.ts, ECS faked) and registers its task's credentials. */
  wake(userId: string, agentId: string): Promise<Task>;
  /** Credentials standing for an arbitrary role session (attacks). */
  principal(arn: string): AwsCredentials;
  /**
   * A session row for a pair outside the roster (the agent tests' pairs), its role known to the relay,
   * and credentials for its task: what a wake and ECS would give a real task.
   */
  runningSession(
    userId: string,
    agentId: string,
    extra?: Record<string, unknown>,
    credentials?: AwsCredentials,
  ): Promise<Task>;
  close(): Promise<void>;
}

const silent = () => new Logger({ serviceName: 'relay-test', logLevel: 'SILENT' });

export async function startRelayEnv(
  options: { deviceRate?: { frames: number; windowMs: number } } = {},
): Promise<RelayEnv> {
  const dynamo = await startDynamo({ maxAttempts: 3 });
  const errors: unknown[] = [];
  const warnings: Record<string, unknown>[] = [];
  const quiet = silent();
  const log = {
    info: () => undefined,
    error: quiet.error.bind(quiet),
    warn: (msg: string, fields?: Record<string, unknown>) => void warnings.push({ msg, ...fields }),
  } as unknown as Logger;
  const directory = new RoleDirectory('acme', ROSTER, ACCOUNT);
  /** Pairs outside the roster, by role name (runningSession). */
  const extra = new Map<string, (arn: string | null | undefined) => ReturnType<RoleDirectory['identify']>>();
  const relay = await startLocalRelay({
    doc: dynamo.doc,
    tables: dynamo.tables,
    auth: ISSUER.authenticator(ROSTER),
    roles: { identify: (arn) => directory.identify(arn) ?? extra.get(String(arn).split('/')[1] ?? '')?.(arn) },
    accountId: ACCOUNT,
    deviceRate: options.deviceRate,
    sealers: { runtime: relaySealer, device: relaySealer, fanout: relaySealer },
    chain: TEST_CHAIN,
    log,
    onFanoutError: (error) => errors.push(error),
  });
  const { adapter, iam, fanout } = relay;
  const fake = fakeEcs();
  const clock = new Clock(Date.now());
  const lifecycle = { ...lifecycleDeps(dynamo, fake.ecs, clock), now: Date.now };

  const principal = (arn: string): AwsCredentials => {
    const credentials = {
      accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(20).toString('base64'),
      sessionToken: randomBytes(24).toString('base64'),
    };
    iam.register({ ...credentials, arn });
    return credentials;
  };

  return {
    dynamo,
    adapter,
    iam,
    fanout,
    errors,
    warnings,
    deviceUrl: relay.deviceUrl,
    runtimeUrl: relay.runtimeUrl,
    principal,
    async wake(userId, agentId) {
      const pair = pairKey(userId, agentId);
      await ensureAwake(lifecycle, userId, agentId, `wake-${randomBytes(4).toString('hex')}`);
      const session = await getSession(lifecycle, pair);
      const taskId = String(session?.taskArn).split('/').at(-1) as string;
      const credentials = principal(
        `arn:aws:sts::${ACCOUNT}:assumed-role/${agentRoleName('acme', userId, agentId)}/${taskId}`,
      );
      return { userId, agentId, pair, taskId, sessionId: session?.sessionId as string, credentials };
    },
    async runningSession(userId, agentId, more = {}, given) {
      const pair = pairKey(userId, agentId);
      const role = agentRoleName('acme', userId, agentId);
      extra.set(role, (arn) => {
        const taskId = String(arn).split('/')[2];
        return String(arn).startsWith(`arn:aws:sts::${ACCOUNT}:assumed-role/${role}/`)
          ? { pair, userId, agentId, taskId }
          : undefined;
      });
      const taskId = randomBytes(16).toString('hex');
      const sessionId = randomUUID();
      await dynamo.seed.send(
        new PutCommand({
          TableName: dynamo.tables.sessions,
          Item: {
            pk: pair,
            status: 'RUNNING',
            startedAt: Date.now(),
            sessionId,
            taskArn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:task/acme-cluster/${taskId}`,
            ...more,
          },
        }),
      );
      const arn = `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${taskId}`;
      const credentials = given ?? principal(arn);
      if (given) iam.register({ ...given, arn });
      return { userId, agentId, pair, taskId, sessionId, credentials };
    },
    async close() {
      await relay.close();
      fake.mock.restore();
      await dynamo.close();
    },
  };
}
