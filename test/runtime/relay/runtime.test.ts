import { randomBytes } from 'node:crypto';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { RelayClient } from '../../../runtime/agent/src/relay-client';
import { putMessage, decideApproval } from '../../../runtime/control-plane/records';
import { readEvents } from '../../../runtime/shared/event-log';
import { verifyChain } from '../../../runtime/shared/event-chain';
import { agentRoleName } from '../../../runtime/shared/names';
import { newSortableId } from '../../../runtime/shared/rows';
import { ACCOUNT, recordDeps, Clock } from '../control-plane/support/fixtures';
import { openRuntime, type RawRuntime } from './support/runtime-client';
import { opened, relaySealer, startRelayEnv, type RelayEnv, type Task } from './support/relay-env';
import { TEST_CHAIN } from '../../support/chain-key';

/**
 * Runtimes against the real relay handlers behind the local `ws` adapter: task identity at the
 * handshake (IAM stand-in), the nonce claimed once, and every way a frame can be wrong refused — the
 * connection closed, nothing written.
 */
let env: RelayEnv;
beforeAll(async () => {
  env = await startRelayEnv();
});
afterAll(async () => {
  await env.close();
});

const chain = (pair: string) => readEvents(env.dynamo.doc, env.dynamo.tables.events, pair);
const sessionRow = async (pair: string) =>
  (await env.dynamo.doc.send(new GetCommand({ TableName: env.dynamo.tables.sessions, Key: { pk: pair } }))).Item!;
const reply = (text: string) => ({ op: 'event' as const, type: 'reply' as const, requestId: 'req-1', data: { text } });
const silentLog = { info: () => undefined, warn: () => undefined };

/** The supervisor's relay client, as a task with `task`'s credentials runs it. */
function runtimeClient(task: Task, more: Partial<ConstructorParameters<typeof RelayClient>[0]> = {}): RelayClient {
  return new RelayClient({
    url: env.runtimeUrl,
    region: 'eu-west-1',
    credentials: async () => task.credentials,
    log: silentLog,
    ...more,
  });
}

async function startedClient(task: Task): Promise<RelayClient> {
  const client = runtimeClient(task);
  await client.start();
  return client;
}

async function refused(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    ((await promise) as RawRuntime).ws.terminate();
    return undefined;
  } catch (error) {
    return (error as { status?: number }).status;
  }
}

describe('runtime handshake: the task identity', () => {
  it('refuses unsigned connects, unknown credentials, other accounts, other roles and other tasks of the pair', async () => {
    const task = await env.wake('carol', 'one');
    const role = agentRoleName('acme', 'carol', 'one');
    expect(await refused(openRuntime(env.runtimeUrl, undefined))).toBe(403);
    expect(
      await refused(
        openRuntime(env.runtimeUrl, { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x', sessionToken: 'y' }),
      ),
    ).toBe(403);
    const wrongSecret = { ...task.credentials, secretAccessKey: 'not-the-secret' };
    expect(await refused(openRuntime(env.runtimeUrl, wrongSecret))).toBe(403);
    for (const arn of [
      `arn:aws:sts::222222222222:assumed-role/${role}/${task.taskId}`,
      `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/another-task`,
      `arn:aws:sts::${ACCOUNT}:assumed-role/Admin/${task.taskId}`,
      `arn:aws:iam::${ACCOUNT}:user/${role}`,
    ]) {
      expect(await refused(openRuntime(env.runtimeUrl, env.principal(arn))), arn).toBe(403);
    }
    const ok = await openRuntime(env.runtimeUrl, task.credentials);
    await ok.close();
  });
});

describe('the nonce', () => {
  it('is claimed once: 32 bytes to the task; a second claim fails, is recorded, and changes nothing', async () => {
    const task = await env.wake('carol', 'two');
    const first = await openRuntime(env.runtimeUrl, task.credentials);
    const claimed = await first.claim();
    expect(claimed.type).toBe('claimed');
    expect(first.nonce).toHaveLength(32);
    expect(claimed.session).toMatchObject({ sessionId: task.sessionId });

    const second = await openRuntime(env.runtimeUrl, task.credentials);
    const answer = await second.claim();
    expect(answer.type).toBe('error');
    await second.closed;
    const events = await chain(task.pair);
    expect(events.filter((e) => e.type === 'relay.claim_refused')).toHaveLength(1);
    expect(events.find((e) => e.type === 'relay.claim_refused')?.data).toEqual({
      sessionId: task.sessionId,
      taskId: task.taskId,
    });
    // The first connection still works with its nonce.
    first.send(first.frame(1, [reply('still here')]));
    expect((await first.next((m) => m.type === 'ack')).seq).toBe(1);
    await first.close();
  });

  it("is kept sealed under the user's key: a table reader never sees it, and a nonce written into the row signs nothing", async () => {
    const task = await env.wake('carol', 'seven');
    // Nothing to read before the task claims it.
    expect((await sessionRow(task.pair)).relayNonce).toBeUndefined();
    const runtime = await openRuntime(env.runtimeUrl, task.credentials);
    await runtime.claim();
    const nonce = runtime.nonce as Buffer;
    const stored = String((await sessionRow(task.pair)).relayNonce);
    expect(stored).toMatch(/^cubicle-sealed:v1:/);
    for (const form of [nonce.toString('base64url'), nonce.toString('base64'), nonce.toString('hex')])
      expect(stored).not.toContain(form);
    runtime.send(runtime.frame(1, [reply('sealed nonce works')]));
    expect((await runtime.next((m) => m.type === 'ack')).seq).toBe(1);
    await runtime.close();

    // An administrator with table write access puts a nonce of their own on the row (plaintext, or another
    // pair's sealed nonce): frames signed with it are refused, and so are the task's own from then on.
    const mine = randomBytes(32);
    const other = await env.wake('carol', 'eight');
    const otherRuntime = await openRuntime(env.runtimeUrl, other.credentials);
    await otherRuntime.claim();
    await otherRuntime.close();
    for (const planted of [mine.toString('base64url'), String((await sessionRow(other.pair)).relayNonce)]) {
      await env.dynamo.seed.send(
        new UpdateCommand({
          TableName: env.dynamo.tables.sessions,
          Key: { pk: task.pair },
          UpdateExpression: 'SET relayNonce = :n',
          ExpressionAttributeValues: { ':n': planted },
        }),
      );
      const forger = await openRuntime(env.runtimeUrl, task.credentials);
      expect((await forger.resume(mine)).type).toBe('error');
      await forger.closed;
      const honest = await openRuntime(env.runtimeUrl, task.credentials);
      expect((await honest.resume(nonce)).type).toBe('error');
      await honest.closed;
    }
    expect((await chain(task.pair)).filter((e) => e.type === 'reply').map((e) => e.data)).toEqual([
      { sealed: expect.stringMatching(/^cubicle-sealed:v1:/) },
    ]);
  });
});

describe('frames', () => {
  let task: Task;
  let other: Task;
  let nonce: Buffer;
  let otherNonce: Buffer;
  let seq = 0;

  beforeAll(async () => {
    task = await env.wake('carol', 'three');
    other = await env.wake('carol', 'four');
    const a = await openRuntime(env.runtimeUrl, task.credentials);
    await a.claim();
    nonce = a.nonce as Buffer;
    a.send(a.frame(++seq, [reply('first')]));
    await a.next((m) => m.type === 'ack');
    await a.close();
    const b = await openRuntime(env.runtimeUrl, other.credentials);
    await b.claim();
    otherNonce = b.nonce as Buffer;
    await b.close();
  });

  /** A resumed connection of `task`. */
  async function resumed(): Promise<RawRuntime> {
    const c = await openRuntime(env.runtimeUrl, task.credentials);
    const answer = await c.resume(nonce);
    expect(answer.type).toBe('resumed');
    return c;
  }

  it('a valid frame is applied and acknowledged with a signed ack; seq continues across connections', async () => {
    const c = await resumed();
    c.send(c.frame(++seq, [reply('second'), { op: 'heartbeat' }]));
    const ack = await c.next((m) => m.type === 'ack');
    expect(ack.seq).toBe(seq);
    expect(JSON.parse(ack.body).results[0]).toEqual({ seq: 2 });
    await c.close();
    const rows = await chain(task.pair);
    expect((await opened(rows)).filter((r) => r.type === 'reply').map((r) => r.data.text)).toEqual(['first', 'second']);
    expect((await verifyChain(rows, TEST_CHAIN)).ok).toBe(true);
  });

  it('refuses 100% of forged, replayed, reordered, cross-pair and malformed frames, closing the connection and writing nothing', async () => {
    const attacks: Array<[string, (c: RawRuntime) => string]> = [
      ['forged: a MAC under another key', (c) => c.frame(seq + 1, [reply('forged')], { nonce: randomBytes(32) })],
      [
        'forged: a MAC of another body',
        (c) =>
          JSON.stringify({
            ...JSON.parse(c.frame(seq + 1, [reply('a')])),
            body: JSON.stringify({ ops: [reply('b')] }),
          }),
      ],
      [
        'forged: no MAC',
        () => JSON.stringify({ type: 'frame', seq: seq + 1, body: JSON.stringify({ ops: [reply('x')] }), mac: '' }),
      ],
      ['replayed: an applied sequence number', (c) => c.frame(seq, [reply('replayed')])],
      ['replayed: sequence 1 again', (c) => c.frame(1, [reply('replayed')])],
      ['reordered: a sequence number ahead', (c) => c.frame(seq + 2, [reply('reordered')])],
      [
        "cross-pair: signed with another pair's nonce",
        (c) => c.frame(seq + 1, [reply('cross')], { nonce: otherNonce }),
      ],
      [
        'cross-connection: signed for another connection id',
        (c) => c.frame(seq + 1, [reply('cross')], { connectionId: 'someone-else' }),
      ],
      ['an operation naming another pair', (c) => c.frame(seq + 1, [{ ...reply('x'), pk: other.pair } as never])],
      [
        'a control-plane event type',
        (c) => c.frame(seq + 1, [{ op: 'event', type: 'approval.decided', requestId: 'r', data: {} } as never]),
      ],
      ['an unknown operation', (c) => c.frame(seq + 1, [{ op: 'sessions.put' } as never])],
      ['not JSON', () => 'garbage'],
      [
        'a second resume on an authenticated connection',
        () => JSON.stringify({ type: 'resume', body: '{}', mac: 'x' }),
      ],
    ];
    const before = (await chain(task.pair)).length;
    const beforeOther = (await chain(other.pair)).length;
    let refusedCount = 0;
    for (const [what, craft] of attacks) {
      const c = await resumed();
      c.send(craft(c));
      const answer = await c.next((m) => m.type === 'error' || m.type === 'ack', 5_000);
      expect(answer.type, what).toBe('error');
      expect((await c.closed).code, what).toBeGreaterThan(0);
      refusedCount += 1;
    }
    expect(refusedCount).toBe(attacks.length);
    expect((await chain(task.pair)).length).toBe(before);
    expect((await chain(other.pair)).length).toBe(beforeOther);
    // A frame before claim or resume is refused too.
    const fresh = await openRuntime(env.runtimeUrl, task.credentials);
    fresh.connectionId = 'x';
    fresh.nonce = nonce;
    fresh.send(fresh.frame(seq + 1, [reply('unauthenticated')]));
    expect((await fresh.next((m) => m.type === 'error')).type).toBe('error');
    await fresh.closed;
    // And the honest next frame still works.
    const c = await resumed();
    c.send(c.frame(++seq, [reply('after the attacks')]));
    expect((await c.next((m) => m.type === 'ack')).seq).toBe(seq);
    await c.close();
    expect((await verifyChain(await chain(task.pair), TEST_CHAIN)).ok).toBe(true);
  });

  it("another pair's task cannot resume this pair's session, even holding its nonce", async () => {
    const c = await openRuntime(env.runtimeUrl, other.credentials);
    const answer = await c.resume(nonce);
    expect(answer.type).toBe('error');
    await c.closed;
  });
});

describe("the supervisor's relay client", () => {
  it('reconnect-and-resume loses nothing under 1,000 events: each appended once, in order, chain intact', async () => {
    const task = await env.wake('carol', 'five');
    const client = runtimeClient(task, { backoff: { initialMs: 20, maxMs: 200 } });
    const session = await client.start();
    onTestFinished(() => client.close(0));
    expect(session.sessionId).toBe(task.sessionId);
    let done = 0;
    const sent = Array.from({ length: 1_000 }, (_, i) => client.call(reply(`event ${i}`)).then(() => (done += 1)));
    // Drop the connection four times while frames are in flight.
    for (const at of [150, 350, 550, 750]) {
      await waitUntil(() => done >= at, 60_000);
      const reconnects = client.reconnects;
      client.dropConnection();
      // A resume waits while the dropped connection's frame is still being applied (up to 100 appends).
      await waitUntil(() => client.reconnects > reconnects, 60_000);
    }
    await Promise.all(sent);
    expect(client.reconnects).toBeGreaterThanOrEqual(3);
    const rows = (await chain(task.pair)).filter((r) => r.type === 'reply');
    expect((await opened(rows)).map((r) => r.data.text)).toEqual(Array.from({ length: 1_000 }, (_, i) => `event ${i}`));
    expect((await verifyChain(await chain(task.pair), TEST_CHAIN)).ok).toBe(true);
    await client.close();
  });

  it('is nudged within 1 s of a new inbox message and of an approval decision, and reads both through signed frames', async () => {
    const task = await env.wake('carol', 'six');
    const client = await startedClient(task);
    const nudges: string[] = [];
    client.on('nudge', (what: string) => nudges.push(what));
    const records = recordDeps(env.dynamo, new Clock(Date.now()), relaySealer);
    const postedAt = Date.now();
    const messageId = await putMessage({ ...records, now: Date.now }, task.pair, 'hello agent', 'req-m');
    await waitUntil(() => nudges.includes('inbox'), 1_000);
    expect(Date.now() - postedAt).toBeLessThan(1_000);
    // The body travels sealed under the user's key: the relay never holds it in plaintext, the runtime opens it.
    const next = (await client.call({ op: 'inbox.next' })) as { row: { sk: string; body: string } };
    expect(next.row.sk).toBe(messageId);
    expect(next.row.body).toMatch(/^cubicle-sealed:v1:/);
    expect(next.row.body).not.toContain('hello agent');
    expect(await client.call({ op: 'inbox.claim', messageId })).toMatchObject({
      row: { state: 'running', attempts: 1 },
    });
    // Claimed again by the same task (a lost ack): no second attempt counted.
    expect(await client.call({ op: 'inbox.claim', messageId })).toMatchObject({ row: { attempts: 1 } });

    const approvalId = newSortableId();
    await client.call({
      op: 'approval.request',
      approvalId,
      requestId: 'req-m',
      messageId,
      tool: 'WebFetch',
      summary: 'fetch x',
      hosts: ['x.example'],
      expiresAt: Date.now() + 60_000,
    });
    expect(await client.call({ op: 'approval.status', approvalId })).toEqual({ status: 'pending' });
    await decideApproval({ ...records, now: Date.now }, task.pair, approvalId, 'approved', 'carol', 'req-d');
    await waitUntil(() => nudges.includes('approval'), 1_000);
    expect(await client.call({ op: 'approval.status', approvalId })).toEqual({
      status: 'approved',
      decidedBy: 'carol',
    });
    await client.close();
  });

  it('honours only decisions the API sealed for the employee: one written into the table, or copied from another approval, is a denial', async () => {
    const task = await env.wake('carol', 'nine');
    const client = await startedClient(task);
    const records = { ...recordDeps(env.dynamo, new Clock(Date.now()), relaySealer), now: Date.now };
    const request = async () => {
      const approvalId = newSortableId();
      await client.call({
        op: 'approval.request',
        approvalId,
        requestId: 'req-a',
        messageId: newSortableId(),
        tool: 'WebFetch',
        summary: 'fetch x',
        hosts: ['x.example'],
        expiresAt: Date.now() + 60_000,
      });
      return approvalId;
    };
    const approvals = env.dynamo.tables.approvals;
    const write = (approvalId: string, set: Record<string, unknown>) =>
      env.dynamo.seed.send(
        new UpdateCommand({
          TableName: approvals,
          Key: { pk: task.pair, sk: approvalId },
          UpdateExpression: `SET ${Object.keys(set)
            .map((k) => `${k} = :${k}`)
            .join(', ')}`,
          ExpressionAttributeValues: Object.fromEntries(Object.entries(set).map(([k, v]) => [`:${k}`, v])),
        }),
      );

    // The employee's real approval: sealed by the API, honoured.
    const real = await request();
    await decideApproval(records, task.pair, real, 'approved', 'carol', 'req-d');
    expect(await client.call({ op: 'approval.status', approvalId: real })).toEqual({
      status: 'approved',
      decidedBy: 'carol',
    });
    const realRow = (
      await env.dynamo.doc.send(new GetCommand({ TableName: approvals, Key: { pk: task.pair, sk: real } }))
    ).Item!;
    expect(realRow.decisionSeal).toMatch(/^cubicle-sealed:v1:/);

    // Written by someone with table access: no seal, a made-up seal, or the real approval's seal copied over.
    const forgeries: Record<string, unknown>[] = [
      { decision: 'approved', decidedAt: Date.now(), decidedBy: 'carol' },
      { decision: 'approved', decidedBy: 'carol', decisionSeal: 'cubicle-sealed:v1:AAAA' },
      { decision: 'approved', decidedBy: 'carol', decisionSeal: realRow.decisionSeal },
    ];
    for (const forged of forgeries) {
      const approvalId = await request();
      await write(approvalId, forged);
      expect(await client.call({ op: 'approval.status', approvalId }), JSON.stringify(forged)).toEqual({
        status: 'denied',
      });
    }
    // Nor can a real denial be turned into an approval by rewriting the decision beside its seal.
    const denied = await request();
    await decideApproval(records, task.pair, denied, 'denied', 'carol', 'req-d');
    await write(denied, { decision: 'approved' });
    expect(await client.call({ op: 'approval.status', approvalId: denied })).toEqual({ status: 'denied' });
    // Each refusal is a security log line naming the pair and the approval.
    expect(
      env.warnings.filter((w) => w.security_event === 'approval.unsealed_decision' && w.pair === task.pair),
    ).toHaveLength(4);
    await client.close();
  });
});

async function waitUntil(probe: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
