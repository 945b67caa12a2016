import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from '../../../runtime/shared/event-log';
import { DEVICE_SUBPROTOCOL } from '../../../runtime/shared/relay-protocol';
import { pairKey } from '../../../runtime/shared/tables';
import { ISSUER, TestIssuer } from '../../support/tokens';
import { openDevice, type Client } from './support/clients';
import { startRelayEnv, type RelayEnv } from './support/relay-env';
import { TEST_CHAIN } from '../../support/chain-key';

/**
 * Devices against the real relay handlers behind the local `ws` adapter, with real `ws` clients and
 * real signed tokens: the handshake, subscriptions (replay, then live), isolation between users, bad
 * frames, rate limits and reconnect-and-resume.
 */
let env: RelayEnv;
beforeAll(async () => {
  env = await startRelayEnv({ deviceRate: { frames: 30, windowMs: 60_000 } });
});
afterAll(async () => {
  await env.close();
});

const append = (userId: string, agentId: string, n: number, type = 'reply') => {
  const log = new EventLog(env.dynamo.doc, env.dynamo.tables.events, pairKey(userId, agentId), TEST_CHAIN);
  return (async () => {
    for (let i = 0; i < n; i += 1) await log.append({ type, requestId: `req-${i}`, data: { text: `${agentId} ${i}` } });
  })();
};

const events = (c: Client, agentId: string) => c.received.filter((m) => m.type === 'event' && m.agentId === agentId);

async function refusedWith(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    const client = (await promise) as Client;
    await client.close();
    return undefined;
  } catch (error) {
    return (error as { status?: number }).status;
  }
}

describe('device handshake', () => {
  it("accepts a roster user's token offered as bearer.<JWT> and selects cubicle.v1", async () => {
    const device = await openDevice(env.deviceUrl, ISSUER.tokenFor('alice'));
    expect(device.ws.protocol).toBe(DEVICE_SUBPROTOCOL);
    await device.close();
  });

  it('refuses missing, forged, expired, other-audience and non-roster tokens with 401', async () => {
    const forged = new TestIssuer(ISSUER.settings, ISSUER.kid).tokenFor('alice');
    const expired = ISSUER.mint({ username: 'alice' }, Math.floor(Date.now() / 1000) - 7200);
    const otherAudience = ISSUER.mint({ username: 'alice', client_id: 'another-client' });
    for (const token of [undefined, forged, expired, otherAudience, ISSUER.tokenFor('mallory'), 'garbage']) {
      expect(await refusedWith(openDevice(env.deviceUrl, token))).toBe(401);
    }
    // Without cubicle.v1, or with two bearer offers.
    expect(await refusedWith(openDevice(env.deviceUrl, undefined, [`bearer.${ISSUER.tokenFor('alice')}`]))).toBe(401);
    expect(
      await refusedWith(
        openDevice(env.deviceUrl, undefined, [
          DEVICE_SUBPROTOCOL,
          `bearer.${ISSUER.tokenFor('alice')}`,
          `bearer.${ISSUER.tokenFor('bruno')}`,
        ]),
      ),
    ).toBe(401);
  });

  it('refuses a token in the URL (any query string) with 400, even a valid one, and even with a valid subprotocol', async () => {
    const token = ISSUER.tokenFor('alice');
    expect(await refusedWith(openDevice(`${env.deviceUrl}?token=${token}`, undefined, [DEVICE_SUBPROTOCOL]))).toBe(400);
    expect(await refusedWith(openDevice(`${env.deviceUrl}?access_token=${token}`, token))).toBe(400);
    expect(await refusedWith(openDevice(`${env.deviceUrl}?x=1`, token))).toBe(400);
  });
});

describe('subscriptions', () => {
  it('replays after the cursor in order, then delivers live events within 1 s', async () => {
    await append('alice', 'sales', 5);
    const device = await openDevice(env.deviceUrl, ISSUER.tokenFor('alice'));
    device.send({ type: 'subscribe', agentId: 'sales', after: 2 });
    const subscribed = await device.next((m) => m.type === 'subscribed');
    expect(subscribed).toEqual({ type: 'subscribed', agentId: 'sales', cursor: 5, more: false });
    expect(events(device, 'sales').map((m) => m.seq)).toEqual([3, 4, 5]);
    expect(events(device, 'sales')[0].event).toMatchObject({ seq: 3, type: 'reply', data: { text: 'sales 2' } });
    const sentAt = Date.now();
    await append('alice', 'sales', 1);
    await device.next((m) => m.type === 'event' && m.seq === 6, 1_000);
    expect(Date.now() - sentAt).toBeLessThan(1_000);
    await device.close();
  });

  it("another user's agent and an unknown agent get the same error; a device of user B never receives user A's events", async () => {
    const bruno = await openDevice(env.deviceUrl, ISSUER.tokenFor('bruno'));
    bruno.send({ type: 'subscribe', agentId: 'sales' }); // alice's
    const other = await bruno.next((m) => m.type === 'error');
    bruno.send({ type: 'subscribe', agentId: 'nope' });
    const unknown = await bruno.next((m) => m.type === 'error' && m !== other);
    expect(other).toEqual(unknown);
    bruno.send({ type: 'subscribe', agentId: 'research' });
    await bruno.next((m) => m.type === 'subscribed');
    const alice = await openDevice(env.deviceUrl, ISSUER.tokenFor('alice'));
    alice.send({ type: 'subscribe', agentId: 'sales' });
    await alice.next((m) => m.type === 'subscribed');
    const before = events(alice, 'sales').length;
    await append('alice', 'sales', 20);
    await append('bruno', 'research', 3);
    await alice.next((m) => m.type === 'event' && events(alice, 'sales').length >= before + 20, 3_000);
    await bruno.next((m) => m.type === 'event' && m.agentId === 'research' && m.seq === 3, 3_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(bruno.received.filter((m) => m.type === 'event').every((m) => m.agentId === 'research')).toBe(true);
    expect(JSON.stringify(bruno.received)).not.toContain('sales ');
    await Promise.all([alice.close(), bruno.close()]);
  });

  it('unsubscribe stops live events', async () => {
    const device = await openDevice(env.deviceUrl, ISSUER.tokenFor('alice'));
    device.send({ type: 'subscribe', agentId: 'finance' });
    await device.next((m) => m.type === 'subscribed');
    device.send({ type: 'unsubscribe', agentId: 'finance' });
    await device.next((m) => m.type === 'unsubscribed');
    await append('alice', 'finance', 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(events(device, 'finance')).toHaveLength(0);
    await device.close();
  });
});

describe('token expiry', () => {
  it('a connection lives no longer than its token: after exp, frames get an error, live events stop, the socket closes', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = ISSUER.mint({ sub: 'sub-carol', username: 'carol', exp: now + 2 }, now);
    const device = await openDevice(env.deviceUrl, token);
    device.send({ type: 'subscribe', agentId: 'three' });
    await device.next((m) => m.type === 'subscribed');
    await new Promise((r) => setTimeout(r, 2_500));
    await append('carol', 'three', 1);
    const expired = await device.next((m) => m.type === 'error', 5_000);
    expect(expired.message).toMatch(/expired/);
    await device.closed;
    expect(events(device, 'three')).toHaveLength(0);
  });
});

describe('bad frames and rate limits', () => {
  it('answers bad frames with an error and keeps the connection', async () => {
    const device = await openDevice(env.deviceUrl, ISSUER.tokenFor('carol'));
    const bad = [
      'not json',
      '[]',
      JSON.stringify({ type: 'subscribe' }),
      JSON.stringify({ type: 'subscribe', agentId: 'one', userId: 'alice' }),
      JSON.stringify({ type: 'nuke' }),
      'x'.repeat(5_000),
    ];
    for (const [i, frame] of bad.entries()) {
      device.send(frame);
      await device.next((m) => m.type === 'error', 3_000, i);
    }
    expect(device.received.filter((m) => m.type === 'error')).toHaveLength(bad.length);
    expect(device.received.find((m) => /unknown field "userId"/.test(m.message))).toBeDefined();
    device.send({ type: 'ping' });
    await device.next((m) => m.type === 'pong');
    expect(device.ws.readyState).toBe(device.ws.OPEN);
    await device.close();
  });

  it('drops frames over the per-connection rate with an error, without disconnecting', async () => {
    const device = await openDevice(env.deviceUrl, ISSUER.tokenFor('carol'));
    for (let i = 0; i < 35; i += 1) device.send({ type: 'ping' });
    await device.next(() => device.received.length >= 35, 5_000);
    expect(device.received.filter((m) => m.type === 'pong')).toHaveLength(30);
    expect(device.received.filter((m) => m.type === 'error' && /Too many frames/.test(m.message))).toHaveLength(5);
    expect(device.ws.readyState).toBe(device.ws.OPEN);
    await device.close();
  });
});

describe('reconnect and resume', () => {
  it('loses nothing under 1,000 events: a device that drops and resubscribes from its last seq sees 1..1000 in order', async () => {
    const token = ISSUER.tokenFor('carol');
    const seen: number[] = [];
    let device = await openDevice(env.deviceUrl, token);
    device.send({ type: 'subscribe', agentId: 'two' });
    await device.next((m) => m.type === 'subscribed');
    const writing = append('carol', 'two', 1_000);
    const collect = (c: Client) => {
      for (const m of c.received)
        if (m.type === 'event' && m.agentId === 'two' && m.seq > (seen.at(-1) ?? 0)) seen.push(m.seq);
    };
    for (let drop = 0; drop < 4; drop += 1) {
      await new Promise((r) => setTimeout(r, 150 + drop * 100));
      device.ws.terminate();
      await device.closed;
      collect(device);
      device = await openDevice(env.deviceUrl, token);
      device.send({ type: 'subscribe', agentId: 'two', after: seen.at(-1) ?? 0 });
      await device.next((m) => m.type === 'subscribed', 10_000);
    }
    await writing;
    await device
      .next((m) => m.type === 'event' && m.seq === 1_000, 10_000)
      .catch(async () => {
        // The replay stops at REPLAY_LIMIT; a device continues from its cursor.
        collect(device);
        device.send({ type: 'subscribe', agentId: 'two', after: seen.at(-1) ?? 0 });
        await device.next((m) => m.type === 'event' && m.seq === 1_000, 10_000);
      });
    collect(device);
    expect(seen).toEqual(Array.from({ length: 1_000 }, (_, i) => i + 1));
    await device.close();
    expect(env.errors.map((e) => `${(e as Error).name}: ${(e as Error).message}\n${(e as Error).stack}`)).toEqual([]);
  });
});
