/**
 * A small relay speaking the device protocol (README "Relay") over a real `ws` server, for the client's
 * tests (duplicates, drops and gaps a real relay would not produce on purpose): selects `cubicle.v1` only when a `bearer.<token>` the test accepts
 * is offered, replays a per-agent event log after `after`, then pushes appended events live. Tests can
 * drop connections, duplicate frames and leave gaps to exercise the client.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AgentEvent } from '../../../console/src/core/api';

export interface RelayServerOptions {
  /** Maps a bearer token to a user, or undefined to refuse the handshake (401). */
  readonly authenticate: (token: string) => string | undefined;
  /** The user's agents' events after `after`, in order; undefined for an agent that is not the user's. */
  readonly events: (
    user: string,
    agentId: string,
    after: number,
  ) => Promise<AgentEvent[] | undefined> | AgentEvent[] | undefined;
  /** Path the server accepts. */
  readonly path?: string;
}

interface Device {
  readonly socket: WebSocket;
  readonly user: string;
  readonly cursors: Map<string, number>;
  readonly urls: string[];
}

export class TestRelay {
  readonly wss: WebSocketServer;
  readonly devices = new Set<Device>();
  /** Every client frame received, parsed. */
  readonly received: Array<Record<string, unknown>> = [];
  /** Every handshake's URL and offered protocols. */
  readonly handshakes: Array<{ url: string; protocols: string[] }> = [];
  /** Frames to drop (by seq) the next time they would be sent live, to make gaps. */
  readonly skipLive = new Set<number>();
  /** When set, every live event frame is sent twice. */
  duplicate = false;
  refused = 0;

  private constructor(
    private readonly options: RelayServerOptions,
    readonly port: number,
    wss: WebSocketServer,
  ) {
    this.wss = wss;
  }

  static async start(options: RelayServerOptions, server?: import('node:http').Server): Promise<TestRelay> {
    const path = options.path ?? '/v1/relay';
    let relay!: TestRelay;
    const wss = new WebSocketServer({
      ...(server ? { noServer: true } : { port: 0, host: '127.0.0.1' }),
      handleProtocols: (protocols) => (protocols.has('cubicle.v1') ? 'cubicle.v1' : false),
      verifyClient: (info, done) => {
        const offered = String(info.req.headers['sec-websocket-protocol'] ?? '')
          .split(',')
          .map((p) => p.trim());
        relay.handshakes.push({ url: info.req.url ?? '', protocols: offered });
        const bearer = offered.find((p) => p.startsWith('bearer.'));
        const url = new URL(info.req.url ?? '/', 'http://x');
        if (
          url.pathname !== path ||
          url.search !== '' ||
          !bearer ||
          !offered.includes('cubicle.v1') ||
          !options.authenticate(bearer.slice('bearer.'.length))
        ) {
          relay.refused += 1;
          done(false, 401, 'Unauthorized');
          return;
        }
        done(true);
      },
    });
    if (server) {
      server.on('upgrade', (req, socket, head) => {
        if (!String(req.url).startsWith(path)) return;
        wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
      });
    } else {
      await new Promise<void>((resolve) => wss.once('listening', resolve));
    }
    relay = new TestRelay(
      options,
      server ? (server.address() as AddressInfo).port : (wss.address() as AddressInfo).port,
      wss,
    );
    wss.on('connection', (socket, req) => {
      const offered = String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim());
      const user = options.authenticate(offered.find((p) => p.startsWith('bearer.'))!.slice('bearer.'.length))!;
      const device: Device = { socket, user, cursors: new Map(), urls: [req.url ?? ''] };
      relay.devices.add(device);
      socket.on('close', () => relay.devices.delete(device));
      socket.on('message', (data) => void relay.onFrame(device, String(data)));
    });
    return relay;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}${this.options.path ?? '/v1/relay'}`;
  }

  private async onFrame(device: Device, text: string): Promise<void> {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      device.socket.send(JSON.stringify({ type: 'error', message: 'frames are JSON' }));
      return;
    }
    this.received.push(frame);
    const agentId = String(frame.agentId);
    if (frame.type === 'unsubscribe') {
      device.cursors.delete(agentId);
      return;
    }
    if (frame.type !== 'subscribe') return;
    const after = typeof frame.after === 'number' ? frame.after : 0;
    const events = await this.options.events(device.user, agentId, after);
    if (!events) {
      device.socket.send(JSON.stringify({ type: 'error', message: 'Agent not found' }));
      return;
    }
    device.cursors.set(agentId, after);
    for (const event of events) this.sendEvent(device, agentId, event);
  }

  private sendEvent(device: Device, agentId: string, event: AgentEvent): void {
    device.socket.send(JSON.stringify({ type: 'event', agentId, seq: event.seq, event }));
    device.cursors.set(agentId, Math.max(device.cursors.get(agentId) ?? 0, event.seq));
  }

  /** Pushes a newly appended event to every device of the user subscribed to the agent. */
  publish(user: string, agentId: string, event: AgentEvent): void {
    if (this.skipLive.delete(event.seq)) return;
    for (const device of this.devices) {
      if (device.user !== user || !device.cursors.has(agentId)) continue;
      this.sendEvent(device, agentId, event);
      if (this.duplicate) device.socket.send(JSON.stringify({ type: 'event', agentId, seq: event.seq, event }));
    }
  }

  /** Drops every device connection (as the 10-minute idle or 2-hour limit would). */
  dropAll(): void {
    for (const device of this.devices) device.socket.terminate();
  }

  async close(): Promise<void> {
    for (const device of this.devices) device.socket.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
