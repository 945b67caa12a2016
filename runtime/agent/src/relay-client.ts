/**
 * The supervisor's side of the relay (README "Relay"): the only way the runtime reaches the control
 * plane's tables. Connects to the runtime WebSocket API with the task role (SigV4 in the upgrade
 * headers), claims the session's nonce once and keeps it in memory only, sends operations in HMAC'd
 * frames, one frame in flight (the relay refuses reordering, and API Gateway may run two messages of a
 * connection concurrently), batching whatever queued meanwhile. Reconnects with backoff when API Gateway
 * closes the socket (10 minutes idle, 2 hours at most) or the network drops, proves the nonce on the new
 * connection and resumes after the last frame the relay applied: nothing queued is lost.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { frameMac, macMatches } from '../../shared/relay-mac';
import { MAX_RUNTIME_FRAME_BYTES } from '../../shared/relay-limits';
import type { RelayMessage, ResumedBody, RuntimeOp, SessionInfo } from '../../shared/relay-protocol';
import { signConnect, type AwsCredentials } from '../../shared/sigv4-connect';

export type OpResult = Record<string, unknown>;

export interface RelayClientOptions {
  /** The runtime API's stage URL (`wss://<api>.execute-api.<region>.amazonaws.com/<stage>`). */
  readonly url: string;
  readonly region: string;
  /** The task role's current credentials. */
  readonly credentials: () => Promise<AwsCredentials>;
  readonly log: {
    info(msg: string, f?: Record<string, unknown>): void;
    warn(msg: string, f?: Record<string, unknown>): void;
  };
  /** Reconnect delays: doubling from `initialMs` to `maxMs`, with jitter. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** A no-op frame after this long without traffic keeps API Gateway's 10-minute idle timeout away. */
  readonly keepaliveMs?: number;
  /** An ack later than this means the connection is dead: reconnect and resume. */
  readonly ackTimeoutMs?: number;
  /** Operations held while the relay is unreachable; past it new ones fail (and are logged by callers). */
  readonly maxQueued?: number;
}

interface Pending {
  readonly op: RuntimeOp;
  readonly text: string;
  readonly resolve: (result: OpResult) => void;
  readonly reject: (error: Error) => void;
}

/** Operations whose result the caller needs; after a lost ack they are asked again (they are idempotent). */
const NEEDS_RESULT = new Set<RuntimeOp['op']>(['inbox.next', 'inbox.claim', 'approval.status', 'approval.expire']);

export class RelayUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RelayUnavailable';
  }
}

export class RelayClient extends EventEmitter {
  private ws: WebSocket | undefined;
  private nonce: Buffer | undefined;
  private connectionId = '';
  private authenticated = false;
  private lastAcked = 0;
  private inflight: { seq: number; items: Pending[]; timer: NodeJS.Timeout } | undefined;
  private queue: Pending[] = [];
  private closing = false;
  private attempt = 0;
  private keepalive: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private started: { resolve: (s: SessionInfo) => void; reject: (e: Error) => void } | undefined;
  /** Reconnects so far (tests and the bench read it). */
  reconnects = 0;

  constructor(private readonly options: RelayClientOptions) {
    super();
  }

  /** Connects and claims the nonce; resolves with the session once the relay has handed it over. */
  start(): Promise<SessionInfo> {
    return new Promise((resolve, reject) => {
      this.started = { resolve, reject };
      void this.connect();
    });
  }

  /** Queues one operation; resolves with its result once the relay has applied it. */
  call(op: RuntimeOp): Promise<OpResult> {
    if (this.closing) return Promise.reject(new RelayUnavailable('the relay client is closed'));
    if (this.queue.length >= (this.options.maxQueued ?? 10_000))
      return Promise.reject(new RelayUnavailable('too many operations queued while the relay is unreachable'));
    return new Promise((resolve, reject) => {
      this.queue.push({ op, text: JSON.stringify(op), resolve, reject });
      this.pump();
    });
  }

  get connected(): boolean {
    return this.authenticated;
  }

  /** Drains what is queued (up to `timeoutMs`), then closes. */
  async close(timeoutMs = 5_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while ((this.queue.length > 0 || this.inflight) && Date.now() < until && this.authenticated)
      await new Promise((r) => setTimeout(r, 20));
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.keepalive);
    if (this.inflight) clearTimeout(this.inflight.timer);
    for (const p of [...(this.inflight?.items ?? []), ...this.queue])
      p.reject(new RelayUnavailable('the relay client closed'));
    this.queue = [];
    this.inflight = undefined;
    this.ws?.close();
    this.started?.reject(new RelayUnavailable('closed before the relay answered'));
  }

  /** Drops the current connection as a network failure would (tests). */
  dropConnection(): void {
    this.ws?.terminate();
  }

  private async connect(): Promise<void> {
    if (this.closing) return;
    let headers: Record<string, string>;
    try {
      headers = await signConnect(this.options.url, await this.options.credentials(), this.options.region);
    } catch (error) {
      this.options.log.warn('relay: could not sign the connection', { error: (error as Error).message });
      return this.scheduleReconnect();
    }
    const ws = new WebSocket(this.options.url, { headers, maxPayload: 256 * 1024, handshakeTimeout: 10_000 });
    this.ws = ws;
    ws.on('open', () => ws.send(JSON.stringify(this.nonce ? { type: 'hello' } : { type: 'claim' })));
    ws.on('message', (data) => this.onMessage(String(data)));
    ws.on('unexpected-response', (_req, res) => {
      this.options.log.warn('relay refused the connection', { status: res.statusCode });
      ws.terminate();
    });
    ws.on('error', () => undefined); // 'close' follows
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.authenticated = false;
      clearTimeout(this.keepalive);
      if (this.inflight) clearTimeout(this.inflight.timer);
      if (!this.closing) this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 500, maxMs: 30_000 };
    const delay = Math.min(maxMs, initialMs * 2 ** Math.min(this.attempt, 16));
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => void this.connect(), delay / 2 + Math.random() * (delay / 2));
  }

  private onMessage(text: string): void {
    let message: RelayMessage;
    try {
      message = JSON.parse(text) as RelayMessage;
    } catch {
      return;
    }
    switch (message.type) {
      case 'claimed':
        this.nonce = Buffer.from(message.nonce, 'base64url');
        this.connectionId = message.connectionId;
        this.onAuthenticated(0);
        this.started?.resolve(message.session);
        this.started = undefined;
        return;
      case 'hello':
        if (!this.nonce) return;
        this.connectionId = message.connectionId;
        this.ws?.send(
          JSON.stringify({
            type: 'resume',
            body: '{}',
            mac: frameMac(this.nonce, 'runtime', this.connectionId, 0, '{}'),
          }),
        );
        return;
      case 'resumed': {
        if (!this.nonce || !macMatches(this.nonce, 'relay', this.connectionId, 0, message.body, message.mac))
          return this.options.log.warn('relay: unsigned resume ignored');
        const body = JSON.parse(message.body) as ResumedBody;
        this.reconnects += 1;
        this.onAuthenticated(body.lastSeq);
        this.emit('nudge', 'inbox'); // a read on every reconnect: nothing pushed meanwhile is missed
        this.emit('nudge', 'approval');
        return;
      }
      case 'ack':
        return this.onAck(message);
      case 'nudge':
        this.emit('nudge', message.what);
        return;
      case 'error':
        this.options.log.warn('relay refused a frame', { message: message.message.slice(0, 200) });
        if (!this.nonce && /cannot be claimed/.test(message.message)) {
          this.closing = true;
          this.started?.reject(new RelayUnavailable('the relay refused the nonce claim'));
        }
        return;
    }
  }

  private onAuthenticated(lastSeq: number): void {
    this.authenticated = true;
    this.attempt = 0;
    const inflight = this.inflight;
    this.inflight = undefined;
    if (inflight) {
      clearTimeout(inflight.timer);
      if (inflight.seq <= lastSeq) {
        // Applied, but its ack was lost: results that matter are asked again, the rest are done.
        const again = inflight.items.filter((p) => NEEDS_RESULT.has(p.op.op));
        for (const p of inflight.items.filter((p) => !NEEDS_RESULT.has(p.op.op))) p.resolve({});
        this.queue.unshift(...again);
      } else {
        this.queue.unshift(...inflight.items);
      }
    }
    this.lastAcked = lastSeq;
    this.armKeepalive();
    this.pump();
  }

  private onAck(message: Extract<RelayMessage, { type: 'ack' }>): void {
    const inflight = this.inflight;
    if (!inflight || !this.nonce || message.seq !== inflight.seq) return;
    if (!macMatches(this.nonce, 'relay', this.connectionId, message.seq, message.body, message.mac))
      return this.options.log.warn('relay: unsigned ack ignored');
    clearTimeout(inflight.timer);
    this.inflight = undefined;
    this.lastAcked = message.seq;
    const { results } = JSON.parse(message.body) as { results: OpResult[] };
    inflight.items.forEach((p, i) => p.resolve(results[i] ?? {}));
    this.armKeepalive();
    this.pump();
  }

  private pump(): void {
    if (!this.authenticated || this.inflight || this.queue.length === 0 || !this.nonce || !this.ws) return;
    const items: Pending[] = [];
    let bytes = 64;
    while (
      this.queue.length > 0 &&
      items.length < 100 &&
      bytes + this.queue[0].text.length * 1.2 + 2 < MAX_RUNTIME_FRAME_BYTES - 512
    ) {
      const next = this.queue.shift() as Pending;
      bytes += next.text.length * 1.2 + 1;
      items.push(next);
    }
    if (items.length === 0) {
      const tooBig = this.queue.shift() as Pending;
      tooBig.reject(new Error(`operation ${tooBig.op.op} is too large for one frame`));
      return this.pump();
    }
    const seq = this.lastAcked + 1;
    const body = `{"ops":[${items.map((p) => p.text).join(',')}]}`;
    const timer = setTimeout(() => this.ws?.terminate(), this.options.ackTimeoutMs ?? 30_000);
    this.inflight = { seq, items, timer };
    this.ws.send(
      JSON.stringify({ type: 'frame', seq, body, mac: frameMac(this.nonce, 'runtime', this.connectionId, seq, body) }),
    );
  }

  private armKeepalive(): void {
    clearTimeout(this.keepalive);
    this.keepalive = setTimeout(
      () => {
        if (this.authenticated && !this.inflight && this.queue.length === 0)
          void this.call({ op: 'ping' }).catch(() => undefined);
        else this.armKeepalive();
      },
      this.options.keepaliveMs ?? 4 * 60_000,
    );
    this.keepalive.unref();
  }
}
