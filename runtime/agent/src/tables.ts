import type { AppendInput } from '../../shared/event-log';
import type { RuntimeOp } from '../../shared/relay-protocol';
import type { InboxRow, InboxState } from '../../shared/rows';

/**
 * The runtime's view of its rows, all through the relay (relay-client.ts): the task role has no table
 * access, the control plane writes every row (runtime/relay/runtime-rows.ts) in the partition of the
 * session the nonce belongs to.
 */
export interface RelayLink {
  call(op: RuntimeOp): Promise<Record<string, unknown>>;
}

/** Heartbeat and inbox cursor on the session's own row. */
export class SessionTable {
  constructor(private readonly relay: RelayLink) {}

  /** Refreshes lastActivityAt; false when the row no longer names this task. */
  async heartbeat(_now: number): Promise<boolean> {
    return (await this.relay.call({ op: 'heartbeat' })).ok === true;
  }

  async advanceCursor(messageId: string): Promise<boolean> {
    return (await this.relay.call({ op: 'inbox.cursor', messageId })).ok === true;
  }
}

/** The inbox: the next unfinished message, claiming it, recording how it ended. */
export class InboxTable {
  constructor(private readonly relay: RelayLink) {}

  async next(cursor: string | undefined): Promise<InboxRow | undefined> {
    const { row } = await this.relay.call({ op: 'inbox.next', ...(cursor ? { after: cursor } : {}) });
    return (row as InboxRow | null) ?? undefined;
  }

  /** Marks the row running and counts the attempt. Undefined when another writer finished it first. */
  async claim(row: InboxRow, _now: number): Promise<InboxRow | undefined> {
    const { row: claimed } = await this.relay.call({ op: 'inbox.claim', messageId: row.sk });
    return (claimed as InboxRow | null) ?? undefined;
  }

  async finish(messageId: string, state: Exclude<InboxState, 'queued' | 'running'>, _now: number): Promise<void> {
    await this.relay.call({ op: 'inbox.finish', messageId, state });
  }
}

/** Where the runtime's events go: appended to the pair's hash chain by the control plane. */
export interface EventSink {
  append(input: AppendInput): Promise<unknown>;
}

export class RelayEventLog implements EventSink {
  constructor(private readonly relay: RelayLink) {}

  async append(input: AppendInput): Promise<unknown> {
    return this.relay.call({
      op: 'event',
      type: input.type as Extract<RuntimeOp, { op: 'event' }>['type'],
      requestId: input.requestId,
      ...(input.messageId !== undefined ? { messageId: input.messageId } : {}),
      data: input.data ?? {},
    });
  }
}
