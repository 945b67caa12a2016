/**
 * The relay as local mode (and the tests) run it: the real device, runtime and fan-out handlers behind
 * the local `ws` adapter, posting through the real @connections client to the adapter's management
 * endpoint, the stream stand-in on the DynamoDB client every local writer uses, and the IAM stand-in for
 * runtimes' task identities. Everything at the AWS boundary is a stand-in; the handler code is AWS's.
 */
import type { RuntimeBudgets } from '../../runtime/relay/runtime-usage';
import type { Logger } from '@aws-lambda-powertools/logger';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Authenticator } from '../../runtime/control-plane/auth';
import { createDeviceHandler } from '../../runtime/relay/device';
import { fanOutEvents, nudgeInbox, type FanoutDeps } from '../../runtime/relay/fanout';
import { managementPoster, type Poster } from '../../runtime/relay/poster';
import type { NonceSealer } from '../../runtime/relay/runtime-auth';
import type { RoleDirectory } from '../../runtime/relay/task-roles';
import { createRuntimeHandler } from '../../runtime/relay/runtime-side';
import type { ChainKey } from '../../runtime/shared/event-chain';
import type { EventLog } from '../../runtime/shared/event-log';
import type { DataOpener, DataSealer } from '../../runtime/shared/sealed-rows';
import { RELAY_PATH } from '../../runtime/shared/relay-protocol';
import type { TableName } from '../../runtime/shared/tables';
import { startRelayAdapter, type RelayAdapter } from './adapter';
import { IamStandIn } from './iam';
import { attachStreamStandIn } from './stream';

export { startRelayAdapter, type RelayAdapter } from './adapter';
export { IamStandIn, type LocalPrincipal } from './iam';
export { attachStreamStandIn } from './stream';
export { localRelayChainKey, localRelaySealers } from './sealers';

/** What each relay function seals or opens records with (in AWS: each function's own role, RECORD_SEALERS / RECORD_OPENERS). */
export interface RelaySealers {
  readonly runtime: DataSealer & DataOpener & NonceSealer;
  readonly device: DataOpener;
  readonly fanout: DataOpener;
}

/** Path of the runtime API on the local adapter (in AWS: the runtime API's `runtime` stage). */
export const LOCAL_RUNTIME_PATH = '/runtime';

type Log = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface LocalRelayOptions {
  /** The document client every local writer of Events and Inbox uses (the stream stand-in attaches to it). */
  readonly doc: DynamoDBDocumentClient;
  readonly tables: Readonly<Record<TableName, string>>;
  /** Verifies devices' tokens (local mode: its own issuer's keys). */
  readonly auth: Authenticator;
  /** Maps a runtime's role session ARN to its pair and task (RoleDirectory over the roster). */
  readonly roles: Pick<RoleDirectory, 'identify'>;
  /** Monthly usage counters and the roster's limits, as the runtime relay function has them. */
  readonly budgets?: RuntimeBudgets;
  /** Task credentials known to the runtime API's IAM check; default a new, empty one. */
  readonly iam?: IamStandIn;
  readonly port?: number;
  readonly accountId?: string;
  readonly deviceRate?: { readonly frames: number; readonly windowMs: number };
  readonly log: Log;
  /** Seals a runtime's events and approvals; opens events for devices (local mode: localRelaySealers). */
  readonly sealers: RelaySealers;
  /** MACs the events the runtime relay appends (the audit chain key; local mode: localRelayChainKey). */
  readonly chain: ChainKey;
  /** Fan-out failures after the stand-in's retries. */
  readonly onFanoutError?: (error: unknown) => void;
  /**
   * Attach the stream stand-in to `doc` (default). Local mode, whose writers are several processes, puts
   * its stand-in in front of DynamoDB instead (local/dynamo/stream-proxy.ts) and turns this off.
   */
  readonly attachStream?: boolean;
}

export interface LocalRelay {
  readonly adapter: RelayAdapter;
  readonly iam: IamStandIn;
  readonly fanout: FanoutDeps;
  /** `ws://127.0.0.1:<port>/v1/relay`: what devices connect to. */
  readonly deviceUrl: string;
  /** `ws://127.0.0.1:<port>/runtime`: CUBICLE_RELAY_URL of local runtimes. */
  readonly runtimeUrl: string;
  close(): Promise<void>;
}

/** Where the stream stand-ins hand new Events and Inbox rows: the fan-out the stream handler runs in AWS. */
export function streamTargets(
  fanout: FanoutDeps,
  tables: Readonly<Record<TableName, string>>,
  onError?: (error: unknown) => void,
) {
  return {
    eventsTable: tables.events,
    inboxTable: tables.inbox,
    onEvents: (rows: Parameters<typeof fanOutEvents>[1]) => fanOutEvents(fanout, rows),
    onInbox: (pairs: string[]) => nudgeInbox(fanout, pairs),
    onError,
  };
}

export async function startLocalRelay(o: LocalRelayOptions): Promise<LocalRelay> {
  const iam = o.iam ?? new IamStandIn();
  let adapter: RelayAdapter | undefined;
  // The management endpoints exist once the adapter listens: posters resolve them on first use.
  const poster = (path: string): Poster => {
    let inner: Poster | undefined;
    const get = () =>
      (inner ??= managementPoster(
        new ApiGatewayManagementApiClient({
          endpoint: adapter?.managementEndpoint(path),
          region: 'local',
          // The local @connections endpoint is on loopback and checks no signature.
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
          maxAttempts: 1,
        }),
      ));
    return { post: (id, message) => get().post(id, message), close: (id) => get().close(id) };
  };
  const devices = poster(RELAY_PATH);
  const runtimes = poster(LOCAL_RUNTIME_PATH);
  const { tables } = o;
  const base = { doc: o.doc, eventsTable: tables.events, connectionsTable: tables.connections, now: Date.now };
  const fanout: FanoutDeps = { ...base, devices, runtimes, opener: o.sealers.fanout };
  const device = createDeviceHandler({
    ...base,
    devices,
    opener: o.sealers.device,
    auth: o.auth,
    log: o.log,
    rateLimit: o.deviceRate,
  });
  const runtime = createRuntimeHandler({
    ...base,
    sealer: o.sealers.runtime,
    chain: o.chain,
    sessionsTable: tables.sessions,
    inboxTable: tables.inbox,
    approvalsTable: tables.approvals,
    eventLogs: new Map<string, EventLog>(),
    runtimes,
    roles: o.roles,
    log: o.log,
    ...(o.budgets ? { budgets: o.budgets } : {}),
  });
  if (o.attachStream ?? true) attachStreamStandIn(o.doc, streamTargets(fanout, tables, o.onFanoutError));
  adapter = await startRelayAdapter({
    port: o.port,
    accountId: o.accountId,
    apis: [
      { path: RELAY_PATH, handler: device },
      { path: LOCAL_RUNTIME_PATH, handler: runtime, iam },
    ],
  });
  return {
    adapter,
    iam,
    fanout,
    deviceUrl: adapter.url(RELAY_PATH),
    runtimeUrl: adapter.url(LOCAL_RUNTIME_PATH),
    close: () => (adapter as RelayAdapter).close(),
  };
}
