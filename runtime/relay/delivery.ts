/**
 * Sending a pair's events to its subscribed devices, in sequence order, from each subscription's cursor.
 * One function serves the replay after a subscribe and the live fan-out after an append (fanout.ts), so
 * both follow the same rule: send the events after the cursor in order, then move the cursor forward.
 * A sender only ever starts at the stored cursor + 1, and the cursor only moves after its events were
 * sent, so a device never sees a gap; it may see an event twice (two senders racing), and drops any
 * `seq` at or below the last one it has (at-least-once, de-duplicated by `seq`).
 */
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { expression } from '../shared/expressions';
import { eventView } from '../control-plane/event-view';
import type { DeviceMessage } from '../shared/relay-protocol';
import type { EventRow } from '../shared/rows';
import { openEvent, type DataOpener } from '../shared/sealed-rows';
import { PARTITION_KEY, SORT_KEY } from '../shared/tables';
import {
  advanceCursor,
  forgetConnection,
  getConnection,
  type ConnectionDeps,
  type SubscriptionRow,
} from './connections';
import type { Poster } from './poster';

export interface DeliveryDeps extends ConnectionDeps {
  readonly doc: DynamoDBDocumentClient;
  readonly eventsTable: string;
  /** The device API's @connections. */
  readonly devices: Poster;
  /** Opens runtime events' sealed data for the pair's own employee (runtime/shared/sealed-rows.ts). */
  readonly opener: DataOpener;
}

export interface Delivered {
  /** The subscription's cursor after this delivery. */
  readonly cursor: number;
  /** Events remain after the cursor that this call did not send (limit reached). */
  readonly more: boolean;
  /** The connection is gone and was forgotten. */
  readonly gone: boolean;
}

const PAGE = 100;

/**
 * Sends the events after `sub.cursor`, at most `limit`, stopping after `upTo` if given. Events already in
 * hand (`known`, e.g. from the stream) are used without reading the table when they continue the cursor.
 */
export async function deliver(
  deps: DeliveryDeps,
  sub: SubscriptionRow,
  options: { readonly limit: number; readonly upTo?: number; readonly known?: readonly EventRow[] },
): Promise<Delivered> {
  if (sub.tokenExpiresAt !== undefined && deps.now() >= sub.tokenExpiresAt) {
    // The token the connection was opened with has expired: it gets nothing more, and is closed.
    await deps.devices.post(sub.connectionId, {
      type: 'error',
      message: 'Your sign-in has expired: reconnect with a new token.',
    } satisfies DeviceMessage);
    await deps.devices.close(sub.connectionId);
    await forgetConnection(deps, await getConnection(deps, sub.connectionId), sub.connectionId);
    return { cursor: sub.cursor, more: false, gone: true };
  }
  let cursor = sub.cursor;
  let sent = 0;
  let more = false;
  while (sent < options.limit && (options.upTo === undefined || cursor < options.upTo)) {
    const want = Math.min(PAGE, options.limit - sent);
    const rows =
      fromKnown(options.known, cursor, want, options.upTo) ??
      (await readAfter(deps, sub.pk, cursor, want, options.upTo));
    if (rows.length === 0) break;
    for (const row of rows) {
      const message: DeviceMessage = {
        type: 'event',
        agentId: sub.agentId,
        seq: row.sk,
        event: eventView(await openEvent(deps.opener, row)),
      };
      if (!(await deps.devices.post(sub.connectionId, message))) {
        await forgetConnection(deps, await getConnection(deps, sub.connectionId), sub.connectionId);
        return { cursor, more: false, gone: true };
      }
      cursor = row.sk;
      sent += 1;
    }
    if (rows.length < want) break;
    if (sent >= options.limit) more = options.upTo === undefined || cursor < options.upTo;
  }
  if (cursor > sub.cursor) await advanceCursor(deps, sub, cursor);
  return { cursor, more, gone: false };
}

/** The contiguous run of `known` rows right after `cursor`, if the run starts there. */
function fromKnown(
  known: readonly EventRow[] | undefined,
  cursor: number,
  max: number,
  upTo: number | undefined,
): EventRow[] | undefined {
  if (!known) return undefined;
  const sorted = [...known].sort((a, b) => a.sk - b.sk);
  const start = sorted.findIndex((row) => row.sk === cursor + 1);
  if (start < 0) return undefined;
  const run: EventRow[] = [];
  for (let i = start; i < sorted.length && run.length < max; i += 1) {
    if (sorted[i].sk !== cursor + 1 + run.length || (upTo !== undefined && sorted[i].sk > upTo)) break;
    run.push(sorted[i]);
  }
  return run;
}

async function readAfter(
  deps: DeliveryDeps,
  pk: string,
  after: number,
  limit: number,
  upTo: number | undefined,
): Promise<EventRow[]> {
  const key =
    upTo === undefined
      ? expression({ KeyConditionExpression: `#${PARTITION_KEY} = :pk AND #${SORT_KEY} > :after` }, { pk, after })
      : expression(
          { KeyConditionExpression: `#${PARTITION_KEY} = :pk AND #${SORT_KEY} BETWEEN :from AND :to` },
          { pk, from: after + 1, to: upTo },
        );
  const out = await deps.doc.send(
    new QueryCommand({
      TableName: deps.eventsTable,
      Limit: limit,
      ScanIndexForward: true,
      ConsistentRead: true,
      ...key,
    }),
  );
  return (out.Items ?? []) as EventRow[];
}
