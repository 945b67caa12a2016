/**
 * The Connections table (runtime/shared/tables.ts): who is connected to the relay, and who listens to a pair.
 *
 * - `conn#<connectionId>` / `-`: the connection — a device (its verified user) or a runtime (its pair,
 *   task and session, and whether it has proven the nonce).
 * - `<user>#<agent>` / `device#<connectionId>`: a device's subscription to that pair, with the cursor of
 *   the last event sent to it.
 * - `<user>#<agent>` / `runtime#<connectionId>`: an authenticated runtime connection of that pair.
 * - `<user>#<agent>` / `session#<sessionId>`: the session's frame sequence — the last frame applied, and
 *   the one being applied (sequence numbers continue across a runtime's reconnects).
 *
 * Fan-out reads a pair's partition with one consistent Query: no index lag between a subscribe and the
 * first live event. Every item expires (TTL) after API Gateway's 2-hour connection limit plus a margin.
 */
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { expression, isConditionFailure } from '../shared/expressions';
import { PARTITION_KEY, SORT_KEY } from '../shared/tables';

/** API Gateway closes every WebSocket after 2 hours; items live an hour longer. */
export const CONNECTION_TTL_SECONDS = 3 * 3600;

export interface ConnectionDeps {
  readonly doc: DynamoDBDocumentClient;
  readonly connectionsTable: string;
  readonly now: () => number;
}

interface ConnectionBase {
  readonly pk: string;
  readonly sk: '-';
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly expiresAt: number;
  /** Rate limit: start of the current window (epoch ms) and frames counted in it. */
  readonly window?: number;
  readonly frames?: number;
}

export interface DeviceConnection extends ConnectionBase {
  readonly kind: 'device';
  readonly userId: string;
  /** The expiry of the token the connection was opened with (epoch ms): the connection ends then. */
  readonly tokenExpiresAt?: number;
  /** Agents this connection subscribes to (to remove the subscriptions on disconnect). */
  readonly agents?: string[];
}

export interface RuntimeConnection extends ConnectionBase {
  readonly kind: 'runtime';
  readonly pair: string;
  readonly taskId: string;
  readonly sessionId: string;
  readonly authenticated?: boolean;
}

export type ConnectionRow = DeviceConnection | RuntimeConnection;

export interface SubscriptionRow {
  readonly pk: string;
  readonly sk: string;
  readonly connectionId: string;
  readonly agentId: string;
  /** Sequence number of the last event sent on this subscription. */
  readonly cursor: number;
  readonly expiresAt: number;
  /** The connection's token expiry (epoch ms): nothing is sent after it. */
  readonly tokenExpiresAt?: number;
}

const connectionKey = (connectionId: string) => ({ [PARTITION_KEY]: `conn#${connectionId}`, [SORT_KEY]: '-' });
const subscriptionSk = (connectionId: string) => `device#${connectionId}`;
const presenceSk = (connectionId: string) => `runtime#${connectionId}`;
const expiry = (deps: ConnectionDeps) => Math.floor(deps.now() / 1000) + CONNECTION_TTL_SECONDS;

type NewConnection =
  | Omit<DeviceConnection, 'pk' | 'sk' | 'connectedAt' | 'expiresAt'>
  | Omit<RuntimeConnection, 'pk' | 'sk' | 'connectedAt' | 'expiresAt'>;

export async function putConnection(deps: ConnectionDeps, row: NewConnection): Promise<void> {
  await deps.doc.send(
    new PutCommand({
      TableName: deps.connectionsTable,
      Item: { ...connectionKey(row.connectionId), ...row, connectedAt: deps.now(), expiresAt: expiry(deps) },
    }),
  );
}

export async function getConnection(deps: ConnectionDeps, connectionId: string): Promise<ConnectionRow | undefined> {
  const out = await deps.doc.send(
    new GetCommand({ TableName: deps.connectionsTable, Key: connectionKey(connectionId), ConsistentRead: true }),
  );
  return out.Item as ConnectionRow | undefined;
}

/** Forgets a connection and everything it listened to. */
export async function forgetConnection(
  deps: ConnectionDeps,
  connection: ConnectionRow | undefined,
  connectionId: string,
): Promise<void> {
  const keys: Record<string, string>[] = [connectionKey(connectionId)];
  if (connection?.kind === 'device') {
    for (const agentId of connection.agents ?? [])
      keys.push({ [PARTITION_KEY]: `${connection.userId}#${agentId}`, [SORT_KEY]: subscriptionSk(connectionId) });
  } else if (connection?.kind === 'runtime') {
    keys.push({ [PARTITION_KEY]: connection.pair, [SORT_KEY]: presenceSk(connectionId) });
  }
  await Promise.all(keys.map((Key) => deps.doc.send(new DeleteCommand({ TableName: deps.connectionsTable, Key }))));
}

/** Subscribes a device connection to a pair from a cursor (replacing an earlier subscription). */
export async function subscribe(
  deps: ConnectionDeps,
  connection: DeviceConnection,
  agentId: string,
  cursor: number,
): Promise<SubscriptionRow> {
  const row: SubscriptionRow = {
    pk: `${connection.userId}#${agentId}`,
    sk: subscriptionSk(connection.connectionId),
    connectionId: connection.connectionId,
    agentId,
    cursor,
    expiresAt: expiry(deps),
    ...(connection.tokenExpiresAt !== undefined ? { tokenExpiresAt: connection.tokenExpiresAt } : {}),
  };
  if (!(connection.agents ?? []).includes(agentId)) {
    await deps.doc.send(
      new UpdateCommand({
        TableName: deps.connectionsTable,
        Key: connectionKey(connection.connectionId),
        ...expression(
          { UpdateExpression: 'SET #agents = list_append(if_not_exists(#agents, :none), :agent)' },
          { none: [], agent: [agentId] },
        ),
      }),
    );
  }
  await deps.doc.send(new PutCommand({ TableName: deps.connectionsTable, Item: row }));
  return row;
}

export async function unsubscribe(deps: ConnectionDeps, connection: DeviceConnection, agentId: string): Promise<void> {
  await deps.doc.send(
    new DeleteCommand({
      TableName: deps.connectionsTable,
      Key: { [PARTITION_KEY]: `${connection.userId}#${agentId}`, [SORT_KEY]: subscriptionSk(connection.connectionId) },
    }),
  );
}

/** Marks a runtime connection authenticated and lists it in its pair's partition (for nudges). */
export async function authenticateRuntime(deps: ConnectionDeps, connection: RuntimeConnection): Promise<void> {
  await deps.doc.send(
    new UpdateCommand({
      TableName: deps.connectionsTable,
      Key: connectionKey(connection.connectionId),
      ...expression(
        { UpdateExpression: 'SET #authenticated = :yes', ConditionExpression: 'attribute_exists(#pk)' },
        { yes: true },
      ),
    }),
  );
  await deps.doc.send(
    new PutCommand({
      TableName: deps.connectionsTable,
      Item: {
        pk: connection.pair,
        sk: presenceSk(connection.connectionId),
        connectionId: connection.connectionId,
        expiresAt: expiry(deps),
      },
    }),
  );
}

export interface PairListeners {
  readonly devices: SubscriptionRow[];
  readonly runtimes: string[];
}

/** Every subscription and runtime connection of a pair (one consistent Query). */
export async function pairListeners(deps: ConnectionDeps, pair: string): Promise<PairListeners> {
  const devices: SubscriptionRow[] = [];
  const runtimes: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await deps.doc.send(
      new QueryCommand({
        TableName: deps.connectionsTable,
        ConsistentRead: true,
        ExclusiveStartKey: start,
        ...expression({ KeyConditionExpression: `#${PARTITION_KEY} = :pair` }, { pair }),
      }),
    );
    for (const item of out.Items ?? []) {
      if (String(item.sk).startsWith('device#')) devices.push(item as SubscriptionRow);
      else if (String(item.sk).startsWith('runtime#')) runtimes.push(item.connectionId as string);
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return { devices, runtimes };
}

/** Moves a subscription's cursor forward (never back: a slower sender cannot rewind it). */
export async function advanceCursor(deps: ConnectionDeps, sub: SubscriptionRow, to: number): Promise<void> {
  try {
    await deps.doc.send(
      new UpdateCommand({
        TableName: deps.connectionsTable,
        Key: { [PARTITION_KEY]: sub.pk, [SORT_KEY]: sub.sk },
        ...expression(
          { UpdateExpression: 'SET #cursor = :to', ConditionExpression: 'attribute_exists(#pk) AND #cursor < :to' },
          { to },
        ),
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
}

/**
 * Counts a frame against the connection's rate limit (`max` frames per `windowMs`); false when over.
 * One conditional UpdateItem: a new window resets the count, the current one increments it below `max`.
 */
export async function countFrame(
  deps: ConnectionDeps,
  connectionId: string,
  max: number,
  windowMs: number,
): Promise<boolean> {
  const now = deps.now();
  const window = now - (now % windowMs);
  const update = (parts: { UpdateExpression: string; ConditionExpression: string }, values: Record<string, unknown>) =>
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.connectionsTable,
        Key: connectionKey(connectionId),
        ...expression(parts, values),
      }),
    );
  try {
    await update(
      { UpdateExpression: 'SET #frames = #frames + :one', ConditionExpression: '#window = :window AND #frames < :max' },
      { one: 1, window, max },
    );
    return true;
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
  try {
    await update(
      {
        UpdateExpression: 'SET #window = :window, #frames = :one',
        ConditionExpression: 'attribute_exists(#pk) AND (attribute_not_exists(#window) OR #window < :window)',
      },
      { one: 1, window },
    );
    return true;
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The frame sequence of a session: a frame is claimed (`applying`) before its operations run, so a
// copy of it (sent again after a reconnect while the first is still being applied) can never run twice;
// a claim older than `staleMs` (the function died mid-frame) may be taken over by the same frame.
// ---------------------------------------------------------------------------------------------

/** A session may live 24 hours (runtime.maxTaskDuration's limit); its sequence row a little longer. */
const SEQUENCE_TTL_SECONDS = 26 * 3600;
const sequenceKey = (pair: string, sessionId: string) => ({
  [PARTITION_KEY]: pair,
  [SORT_KEY]: `session#${sessionId}`,
});

export interface FrameSequence {
  /** The last frame applied (0: none). */
  readonly seq: number;
  /** A frame being applied right now (not stale). */
  readonly busy: boolean;
}

export async function frameSequence(
  deps: ConnectionDeps,
  pair: string,
  sessionId: string,
  staleMs: number,
): Promise<FrameSequence> {
  const out = await deps.doc.send(
    new GetCommand({ TableName: deps.connectionsTable, Key: sequenceKey(pair, sessionId), ConsistentRead: true }),
  );
  const item = out.Item as { seq?: number; applying?: number; applyingAt?: number } | undefined;
  return { seq: item?.seq ?? 0, busy: item?.applying !== undefined && deps.now() - (item.applyingAt ?? 0) < staleMs };
}

/** Claims frame `seq` (the next after the last applied, and no live claim); false otherwise. */
export async function beginFrame(
  deps: ConnectionDeps,
  pair: string,
  sessionId: string,
  seq: number,
  staleMs: number,
): Promise<boolean> {
  const now = deps.now();
  try {
    await deps.doc.send(
      new UpdateCommand({
        TableName: deps.connectionsTable,
        Key: sequenceKey(pair, sessionId),
        ...expression(
          {
            UpdateExpression: 'SET #applying = :seq, #applyingAt = :now, #expiresAt = :ttl',
            ConditionExpression: `${seq === 1 ? '(attribute_not_exists(#seq) OR #seq = :previous)' : '#seq = :previous'} AND (attribute_not_exists(#applying) OR #applyingAt < :stale)`,
          },
          { seq, now, ttl: Math.floor(now / 1000) + SEQUENCE_TTL_SECONDS, previous: seq - 1, stale: now - staleMs },
        ),
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/** Records frame `seq` as applied. */
export async function endFrame(deps: ConnectionDeps, pair: string, sessionId: string, seq: number): Promise<void> {
  await deps.doc.send(
    new UpdateCommand({
      TableName: deps.connectionsTable,
      Key: sequenceKey(pair, sessionId),
      ...expression(
        { UpdateExpression: 'SET #seq = :seq REMOVE #applying, #applyingAt', ConditionExpression: '#applying = :seq' },
        { seq },
      ),
    }),
  );
}
