/**
 * Client of the relay's device protocol (README "Relay"), shared by the console (browser WebSocket) and
 * the CLI (`ws`): offers the subprotocols `cubicle.v1` and `bearer.<JWT>` (the token never goes in the
 * URL), subscribes to agents from a cursor, and delivers each agent's events exactly once and in
 * sequence order although the relay delivers at least once: duplicates (seq at or below the cursor) are
 * dropped, a gap is filled over HTTP before anything after it is delivered, and after a drop (idle
 * timeout, the 2-hour limit, a network change) it reconnects with backoff and resubscribes from the
 * last delivered seq.
 */
import type { AgentEvent } from './api';

/** What the client needs of a WebSocket: the browser's and `ws`'s both fit. */
export interface SocketLike {
  readonly protocol: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type SocketFactory = (url: string, protocols: string[]) => SocketLike;

export type RelayState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export const RELAY_PROTOCOL = 'cubicle.v1';

export interface RelayOptions {
  readonly url: string;
  /** The current bearer token; asked again for every connection (it may have been refreshed). */
  readonly token: () => Promise<string>;
  readonly connect: SocketFactory;
  /** Events after `after` over HTTP (GET /events), to fill a gap the relay left. */
  readonly fill: (agentId: string, after: number) => Promise<AgentEvent[]>;
  readonly onEvent: (agentId: string, event: AgentEvent) => void;
  readonly onState?: (state: RelayState) => void;
  /** An error frame from the relay, or a failure of the client; the client keeps going. */
  readonly onError?: (message: string) => void;
  /** Reconnect delay: full jitter over min(maxMs, initialMs * 2^attempt). */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** A connection open this long resets the backoff. */
  readonly stableMs?: number;
  /** Retries of a gap fill before the event after the gap is delivered anyway. */
  readonly fillRetries?: number;
  readonly random?: () => number;
  readonly now?: () => number;
}

interface Subscription {
  cursor: number;
  readonly queue: AgentEvent[];
  draining: boolean;
}

export class RelayClient {
  private socket?: SocketLike;
  private readonly subscriptions = new Map<string, Subscription>();
  private attempt = 0;
  private openedAt = 0;
  private timer?: ReturnType<typeof setTimeout>;
  private stopped = false;
  private started = false;
  private currentState: RelayState = 'closed';

  constructor(private readonly options: RelayOptions) {}

  get state(): RelayState {
    return this.currentState;
  }

  /** The last delivered seq of an agent (what a reconnect resumes from). */
  cursor(agentId: string): number | undefined {
    return this.subscriptions.get(agentId)?.cursor;
  }

  /** Starts delivering an agent's events after `after` (its last seq the caller has). */
  subscribe(agentId: string, after: number): void {
    const existing = this.subscriptions.get(agentId);
    if (existing) {
      existing.cursor = Math.max(existing.cursor, after);
    } else {
      this.subscriptions.set(agentId, { cursor: after, queue: [], draining: false });
    }
    this.sendFrame({ type: 'subscribe', agentId, after: this.subscriptions.get(agentId)!.cursor });
    this.start();
  }

  unsubscribe(agentId: string): void {
    if (!this.subscriptions.delete(agentId)) return;
    this.sendFrame({ type: 'unsubscribe', agentId });
  }

  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      socket.onclose = null;
      socket.onmessage = null;
      socket.close(1000, 'client closed');
    }
    this.setState('closed');
  }

  private start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    void this.connect();
  }

  private setState(state: RelayState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.options.onState?.(state);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.setState(this.attempt === 0 && this.openedAt === 0 ? 'connecting' : 'reconnecting');
    let token: string;
    try {
      token = await this.options.token();
    } catch (error) {
      this.options.onError?.(`Cannot connect for live updates: ${(error as Error).message}`);
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    let socket: SocketLike;
    try {
      socket = this.options.connect(this.options.url, [RELAY_PROTOCOL, `bearer.${token}`]);
    } catch (error) {
      this.options.onError?.(`Cannot connect for live updates: ${(error as Error).message}`);
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      if (socket.protocol !== RELAY_PROTOCOL) {
        this.options.onError?.('The relay did not accept the cubicle.v1 protocol.');
        socket.close(1002, 'protocol');
        return;
      }
      opened = true;
      this.openedAt = this.now();
      this.setState('open');
      for (const [agentId, sub] of this.subscriptions)
        this.sendFrame({ type: 'subscribe', agentId, after: sub.cursor });
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onerror = () => undefined; // a close event always follows
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      if (opened && this.now() - this.openedAt >= (this.options.stableMs ?? 5_000)) this.attempt = 0;
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.setState('reconnecting');
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 500, maxMs: 30_000 };
    const ceiling = Math.min(maxMs, initialMs * 2 ** this.attempt);
    this.attempt += 1;
    const delay = Math.round((this.options.random ?? Math.random)() * ceiling);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delay);
  }

  private sendFrame(frame: Record<string, unknown>): void {
    if (this.currentState !== 'open' || !this.socket) return; // sent on (re)connect
    try {
      this.socket.send(JSON.stringify(frame));
    } catch {
      // the close handler reconnects and resubscribes
    }
  }

  private receive(data: unknown): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data)) as Record<string, unknown>;
    } catch {
      this.options.onError?.('The relay sent a frame that is not JSON.');
      return;
    }
    if (frame.type === 'error') {
      this.options.onError?.(typeof frame.message === 'string' ? frame.message : 'The relay reported an error.');
      return;
    }
    if (frame.type !== 'event') return;
    const sub = typeof frame.agentId === 'string' ? this.subscriptions.get(frame.agentId) : undefined;
    const seq = frame.seq;
    const event = frame.event as AgentEvent | undefined;
    if (!sub || typeof seq !== 'number' || !Number.isInteger(seq) || !event || typeof event !== 'object') return;
    sub.queue.push({ ...event, seq });
    void this.drain(frame.agentId as string, sub);
  }

  /** Delivers queued events in order: duplicates dropped, gaps filled first. One drain per agent at a time. */
  private async drain(agentId: string, sub: Subscription): Promise<void> {
    if (sub.draining) return;
    sub.draining = true;
    try {
      while (sub.queue.length > 0 && this.subscriptions.get(agentId) === sub) {
        sub.queue.sort((a, b) => a.seq - b.seq);
        const next = sub.queue[0];
        if (next.seq <= sub.cursor) {
          sub.queue.shift();
          continue;
        }
        if (next.seq > sub.cursor + 1) await this.fillGap(agentId, sub, next.seq);
        if (this.subscriptions.get(agentId) !== sub) return;
        const head = sub.queue.shift();
        if (head && head.seq > sub.cursor) this.deliver(agentId, sub, head);
      }
    } finally {
      sub.draining = false;
    }
  }

  private async fillGap(agentId: string, sub: Subscription, upTo: number): Promise<void> {
    const retries = this.options.fillRetries ?? 4;
    for (let attempt = 0; attempt <= retries && sub.cursor + 1 < upTo; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      try {
        for (const event of await this.options.fill(agentId, sub.cursor)) {
          if (event.seq === sub.cursor + 1 && event.seq < upTo) this.deliver(agentId, sub, event);
        }
      } catch (error) {
        this.options.onError?.(`Could not load missed events: ${(error as Error).message}`);
      }
    }
  }

  private deliver(agentId: string, sub: Subscription, event: AgentEvent): void {
    sub.cursor = event.seq;
    try {
      this.options.onEvent(agentId, event);
    } catch (error) {
      this.options.onError?.(`An event could not be shown: ${(error as Error).message}`);
    }
  }
}
