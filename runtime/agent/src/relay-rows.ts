import type { AppendInput } from '../../shared/event-log';
import type { RuntimeOp } from '../../shared/relay-protocol';
import type { InboxRow, InboxState } from '../../shared/rows';
import type { InboxContent } from '../../shared/sealed-rows';

/**
 * The runtime's view of its rows (session, inbox, events), all through the relay (relay-client.ts): the task role has no table
 * access, the control plane writes every row (runtime/relay/runtime-rows.ts) in the partition of the
 * session the nonce belongs to.
 */
export interface RelayLink {
  call(op: RuntimeOp): Promise<Record<string, unknown>>;
}

/** Heartbeat and inbox cursor on the session's own row. */
export class RelaySessionRow {
  constructor(private readonly relay: RelayLink) {}

  /** Refreshes lastActivityAt; false when the row no longer names this task. */
  async heartbeat(_now: number): Promise<boolean> {
    return (await this.relay.call({ op: 'heartbeat' })).ok === true;
  }

  async advanceCursor(messageId: string): Promise<boolean> {
    return (await this.relay.call({ op: 'inbox.cursor', messageId })).ok === true;
  }
}

/** An inbox row as the runtime holds it: body opened in memory, or why it could not be opened. */
export interface OpenedInboxRow extends InboxRow {
  /** Set when the sealed body could not be opened (not sealed, another key or context): the message fails, unread. */
  readonly unreadable?: string;
}

/**
 * The inbox: the next unfinished message, claiming it, recording how it ended. Bodies travel sealed under
 * the user's key (the relay never holds them in plaintext); only this pair's role can open them.
 */
export class RelayInbox {
  constructor(
    private readonly relay: RelayLink,
    /** Opens a row's sealed body as this pair's (runtime/shared/sealed-rows.ts openInboxBody). */
    private readonly openBody: (row: InboxRow) => Promise<Omit<InboxContent, 'messageId'>>,
  ) {}

  /**
   * Why the control plane held the inbox at the last read (`budget_exhausted` or `stopped`: the budget
   * allows no further message now; what is queued stays queued), or undefined.
   */
  held: string | undefined;

  async next(cursor: string | undefined): Promise<OpenedInboxRow | undefined> {
    const { row, held } = await this.relay.call({ op: 'inbox.next', ...(cursor ? { after: cursor } : {}) });
    this.held = typeof held === 'string' ? held : undefined;
    return row ? this.opened(row as InboxRow) : undefined;
  }

  private async opened(row: InboxRow): Promise<OpenedInboxRow> {
    // The policy of a scheduled message is the one sealed with its text, never the row's plaintext copy.
    const { schedule: _plaintext, ...rest } = row;
    try {
      const content = await this.openBody(row);
      return { ...rest, body: content.text, ...(content.schedule ? { schedule: content.schedule } : {}) };
    } catch (error) {
      // By name, as sealed-rows.ts does: the opener is its own bundle (inbox-opener.ts), with its own SealError class.
      // Anything else (KMS unavailable) throws, and the next read tries again.
      if ((error as Error).name !== 'SealError') throw error;
      return { ...rest, body: '', unreadable: (error as Error).message };
    }
  }

  /** Marks the row running and counts the attempt. Undefined when another writer finished it first. */
  async claim(row: OpenedInboxRow, _now: number): Promise<OpenedInboxRow | undefined> {
    const { row: claimed } = await this.relay.call({ op: 'inbox.claim', messageId: row.sk });
    if (!claimed) return undefined;
    // The stored body stays sealed; the opened one (and its sealed policy) is what the runner uses.
    const { schedule: _plaintext, ...stored } = claimed as InboxRow;
    return {
      ...stored,
      body: row.body,
      ...(row.schedule ? { schedule: row.schedule } : {}),
      ...(row.unreadable ? { unreadable: row.unreadable } : {}),
    };
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
