/**
 * Fan-out: new events reach every subscribed device of their pair, approval decisions and new inbox
 * messages nudge the pair's runtime. Plain functions over rows: in AWS a DynamoDB stream on Events (new
 * images) and Inbox (keys only) calls them (handlers/fanout.ts); local mode, whose DynamoDB stand-in has no
 * streams, calls them from its own stand-in (local/relay/stream.ts).
 *
 * Why a stream and not the append path: events are appended by four writers (the relay for runtimes, the
 * API for decisions, the task-event and reaper functions for lifecycle events). A stream sees every one in
 * per-pair order without giving any writer the right to post to connections, and a failed post never
 * fails or slows an append (the stream retries).
 */
import type { RelayMessage } from '../shared/relay-protocol';
import type { EventRow } from '../shared/rows';
import { pairListeners } from './connections';
import { deliver, type DeliveryDeps } from './delivery';
import type { Poster } from './poster';

export interface FanoutDeps extends DeliveryDeps {
  /** The runtime API's @connections. */
  readonly runtimes: Poster;
}

/** Live delivery may fill a gap this long from the table; a longer one is left to the device's next subscribe. */
export const LIVE_GAP_LIMIT = 500;

export async function fanOutEvents(deps: FanoutDeps, rows: readonly EventRow[]): Promise<void> {
  const byPair = new Map<string, EventRow[]>();
  for (const row of rows) byPair.set(row.pk, [...(byPair.get(row.pk) ?? []), row]);
  await Promise.all(
    [...byPair].map(async ([pair, pairRows]) => {
      const listeners = await pairListeners(deps, pair);
      const upTo = Math.max(...pairRows.map((r) => r.sk));
      await Promise.all(
        listeners.devices.map((sub) => deliver(deps, sub, { limit: LIVE_GAP_LIMIT, upTo, known: pairRows })),
      );
      if (pairRows.some((r) => r.type === 'approval.decided')) await nudge(deps, listeners.runtimes, 'approval');
    }),
  );
}

/** New inbox messages for these pairs: their runtimes ask the relay for the next message. */
export async function nudgeInbox(deps: FanoutDeps, pairs: readonly string[]): Promise<void> {
  await Promise.all(
    [...new Set(pairs)].map(async (pair) => nudge(deps, (await pairListeners(deps, pair)).runtimes, 'inbox')),
  );
}

/** A nudge carries nothing but a hint; the runtime reads through its signed frames. */
async function nudge(deps: FanoutDeps, connectionIds: readonly string[], what: 'inbox' | 'approval'): Promise<void> {
  const message: RelayMessage = { type: 'nudge', what };
  await Promise.all(connectionIds.map((id) => deps.runtimes.post(id, message)));
}
