/**
 * The relay client shared by the console and the CLI, against a real WebSocket server speaking the device
 * protocol: the token only as a subprotocol, replay then live, exactly-once in-order delivery although the
 * server duplicates and drops, resume from the last seq after a drop, backoff, unsubscribe, errors.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { AgentEvent } from '../../console/src/core/api';
import { RelayClient, type RelayState, type SocketFactory, type SocketLike } from '../../console/src/core/relay';
import { TestRelay } from './support/relay-server';

class Log {
  readonly byAgent = new Map<string, AgentEvent[]>();
  constructor(private readonly relay?: () => TestRelay) {}
  append(agentId: string, n = 1): void {
    for (let i = 0; i < n; i++) {
      const events = this.byAgent.get(agentId) ?? [];
      const event: AgentEvent = {
        seq: events.length + 1,
        type: 'reply',
        at: new Date(0).toISOString(),
        requestId: 'r',
        data: { text: `${agentId} ${events.length + 1}` },
      };
      events.push(event);
      this.byAgent.set(agentId, events);
      this.relay?.().publish('alice', agentId, event);
    }
  }
  after(agentId: string, after: number): AgentEvent[] {
    return (this.byAgent.get(agentId) ?? []).filter((e) => e.seq > after);
  }
}

const factory: SocketFactory = (url, protocols) => new WebSocket(url, protocols) as unknown as SocketLike;

let relay: TestRelay;
let log: Log;
let client: RelayClient | undefined;
afterEach(async () => {
  client?.close();
  client = undefined;
  await relay?.close();
});

async function setup(agents: Record<string, string[]> = { alice: ['sales', 'finance'], bruno: ['research'] }) {
  log = new Log(() => relay);
  relay = await TestRelay.start({
    authenticate: (token) => ({ 'alice-token': 'alice', 'bruno-token': 'bruno' })[token],
    events: (user, agentId, after) => (agents[user]?.includes(agentId) ? log.after(agentId, after) : undefined),
  });
}

function connect(
  options: { token?: string; fills?: Array<[string, number]>; errors?: string[]; states?: RelayState[] } = {},
) {
  const received: Array<[string, number]> = [];
  client = new RelayClient({
    url: relay.url,
    token: async () => options.token ?? 'alice-token',
    connect: factory,
    fill: async (agentId, after) => {
      options.fills?.push([agentId, after]);
      return log.after(agentId, after);
    },
    onEvent: (agentId, event) => received.push([agentId, event.seq]),
    onError: (message) => options.errors?.push(message),
    onState: (state) => options.states?.push(state),
    backoff: { initialMs: 20, maxMs: 100 },
  });
  return received;
}

async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const seqs = (received: Array<[string, number]>, agentId: string) =>
  received.filter(([a]) => a === agentId).map(([, s]) => s);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('relay client', () => {
  it('offers cubicle.v1 and the token as bearer.<JWT>, never in the URL; replays after the cursor, then live', async () => {
    await setup();
    log.append('sales', 5);
    const states: RelayState[] = [];
    const received = connect({ states });
    client!.subscribe('sales', 2);
    await until(() => received.length === 3, 'replay');
    log.append('sales', 2);
    await until(() => received.length === 5, 'live events');
    expect(seqs(received, 'sales')).toEqual([3, 4, 5, 6, 7]);
    expect(relay.handshakes).toEqual([{ url: '/v1/relay', protocols: ['cubicle.v1', 'bearer.alice-token'] }]);
    expect(relay.received).toEqual([{ type: 'subscribe', agentId: 'sales', after: 2 }]);
    expect(states).toEqual(['connecting', 'open']);
    expect(client!.cursor('sales')).toBe(7);
  });

  it('delivers each event once although the relay sends it twice', async () => {
    await setup();
    const received = connect();
    client!.subscribe('sales', 0);
    await until(() => relay.devices.size === 1 && [...relay.devices][0].cursors.has('sales'), 'subscription');
    relay.duplicate = true;
    log.append('sales', 20);
    await until(() => received.length >= 20, 'events');
    await new Promise((r) => setTimeout(r, 50));
    expect(seqs(received, 'sales')).toEqual(range(1, 20));
  });

  it('fills a gap over HTTP before delivering what comes after it', async () => {
    await setup();
    const fills: Array<[string, number]> = [];
    const received = connect({ fills });
    client!.subscribe('sales', 0);
    await until(() => relay.devices.size === 1 && [...relay.devices][0].cursors.has('sales'), 'subscription');
    log.append('sales', 2);
    relay.skipLive.add(3);
    relay.skipLive.add(4);
    log.append('sales', 3);
    await until(() => received.length === 5, 'events after the gap');
    expect(seqs(received, 'sales')).toEqual([1, 2, 3, 4, 5]);
    expect(fills).toEqual([['sales', 2]]);
  });

  it('reconnects after drops and resumes from the last seq: nothing lost, nothing twice, under 1,000 events', async () => {
    await setup();
    const states: RelayState[] = [];
    const received = connect({ states });
    client!.subscribe('sales', 0);
    client!.subscribe('finance', 0);
    for (let round = 0; round < 10; round++) {
      const connected = () =>
        [...relay.devices].filter((d) => d.socket.readyState === WebSocket.OPEN && d.cursors.size === 2);
      await until(
        () => relay.handshakes.length === round + 1 && connected().length === 1,
        `connection ${round + 1} subscribed`,
      );
      log.append('sales', 60);
      log.append('finance', 40);
      relay.dropAll(); // mid-stream: some frames of this round may never leave
      log.append('sales', 0);
    }
    await until(
      () => received.length === 1000 && relay.handshakes.length === 11,
      'all 1,000 events and the last reconnect',
      15_000,
    );
    expect(seqs(received, 'sales')).toEqual(range(1, 600));
    expect(seqs(received, 'finance')).toEqual(range(1, 400));
    expect(relay.handshakes.length).toBe(11);
    // Every resubscription named the last seq delivered before the drop.
    const resubscribes = relay.received
      .filter((f) => f.type === 'subscribe' && f.agentId === 'sales')
      .map((f) => f.after as number);
    expect(resubscribes[0]).toBe(0);
    expect(resubscribes).toEqual([...resubscribes].sort((a, b) => a - b));
    expect(states.filter((s) => s === 'reconnecting').length).toBeGreaterThanOrEqual(10);
  });

  it('keeps retrying with growing delays while the relay refuses the token, and connects once it accepts', async () => {
    await setup();
    let token = 'expired';
    const started = Date.now();
    const received: number[] = [];
    client = new RelayClient({
      url: relay.url,
      token: async () => token,
      connect: factory,
      fill: async () => [],
      onEvent: (_a, e) => received.push(e.seq),
      backoff: { initialMs: 20, maxMs: 80 },
      random: () => 1,
    });
    log.append('sales', 1);
    client.subscribe('sales', 0);
    await until(() => relay.refused >= 4, 'refusals');
    // Delays 20, 40, 80, 80: the fourth refusal comes no sooner than 140 ms after the start.
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    token = 'alice-token';
    await until(() => received.length === 1, 'event after a good token');
  });

  it("surfaces the relay's error frame for an agent that is not the user's, and another user gets nothing of it", async () => {
    await setup();
    log.append('sales', 3);
    const errors: string[] = [];
    const received = connect({ token: 'bruno-token', errors });
    client!.subscribe('sales', 0);
    await until(() => errors.length === 1, 'error frame');
    expect(errors).toEqual(['Agent not found']);
    log.append('sales', 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toEqual([]);
  });

  it('unsubscribe stops delivery for that agent; close stops reconnecting', async () => {
    await setup();
    const received = connect();
    client!.subscribe('sales', 0);
    client!.subscribe('finance', 0);
    await until(() => relay.devices.size === 1 && [...relay.devices][0].cursors.size === 2, 'subscriptions');
    client!.unsubscribe('sales');
    await until(() => relay.received.some((f) => f.type === 'unsubscribe'), 'unsubscribe frame');
    log.append('sales', 2);
    log.append('finance', 2);
    await until(() => received.length === 2, 'finance events');
    expect(received.map(([a]) => a)).toEqual(['finance', 'finance']);
    client!.close();
    const handshakes = relay.handshakes.length;
    relay.dropAll();
    await new Promise((r) => setTimeout(r, 200));
    expect(relay.handshakes.length).toBe(handshakes);
    expect(client!.state).toBe('closed');
  });
});
