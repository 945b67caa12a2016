import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../../runtime/control-plane/api';
import { RecordSealer } from '../../../runtime/shared/envelope';
import { EventLog } from '../../../runtime/shared/event-log';
import { newSortableId } from '../../../runtime/shared/rows';
import { sealApproval } from '../../../runtime/shared/sealed-rows';
import { Clock, fakeEcs, httpEvent, lifecycleDeps, recordDeps, silentLogger } from '../control-plane/support/fixtures';
import { rawItemsText } from '../../support/dynamo';
import { fakeKms } from '../../support/fake-kms';
import { ISSUER } from '../../support/tokens';
import { openDevice } from './support/clients';
import { ROSTER, relaySealer, startRelayEnv, type RelayEnv } from './support/relay-env';
import { openRuntime } from './support/runtime-client';
import { TEST_CHAIN } from '../../support/chain-key';

/**
 * A runtime's replies, tool activity and approval requests are sealed under the user's key by the relay
 * before they reach a table (docs/isolation-claims.md claim 5): a canary sent through a runtime's signed
 * frames appears in no raw item of any table, while the employee reads it in plain text over every path —
 * the relay's live fan-out and replay to devices, GET /events and GET /v1/approvals.
 */

const CANARY = 'CANARY-5b2f9e: the merger closes on 12 March';
const CANARY_HOST = 'canary-5b2f9e.example';

let env: RelayEnv;
beforeAll(async () => {
  env = await startRelayEnv();
});
afterAll(async () => {
  await env.close();
});

function api() {
  const clock = new Clock(Date.now());
  return createApiHandler({
    auth: ISSUER.authenticator(ROSTER),
    logger: silentLogger(),
    lifecycle: lifecycleDeps(env.dynamo, fakeEcs().ecs, clock),
    records: { ...recordDeps(env.dynamo, clock, relaySealer), now: Date.now },
  });
}

describe('sealed runtime events and approvals', () => {
  it('a canary sent by a runtime is in no raw table item; devices, GET /events and GET /v1/approvals read it in plain text', async () => {
    const task = await env.wake('carol', 'one');
    const live = await openDevice(env.deviceUrl, ISSUER.tokenFor('carol'));
    live.send({ type: 'subscribe', agentId: 'one' });
    await live.next((m) => m.type === 'subscribed');

    const runtime = await openRuntime(env.runtimeUrl, task.credentials);
    expect((await runtime.claim()).type).toBe('claimed');
    const messageId = newSortableId();
    const approvalId = newSortableId();
    runtime.send(
      runtime.frame(1, [
        { op: 'event', type: 'reply', requestId: 'req-canary', messageId, data: { text: CANARY } },
        {
          op: 'event',
          type: 'tool.call',
          requestId: 'req-canary',
          messageId,
          data: { tool: 'WebFetch', summary: `GET https://${CANARY_HOST}/` },
        },
        {
          op: 'approval.request',
          approvalId,
          requestId: 'req-canary',
          messageId,
          tool: 'WebFetch',
          summary: CANARY,
          hosts: [CANARY_HOST],
          expiresAt: Date.now() + 60_000,
        },
      ]),
    );
    await runtime.next((m) => m.type === 'ack');
    await runtime.close();

    const raw = await rawItemsText(env.dynamo);
    expect(raw).toContain('cubicle-sealed:v1:');
    for (const fragment of [
      'CANARY',
      '5b2f9e',
      'merger',
      '12 March',
      Buffer.from(CANARY).toString('base64').slice(0, 16),
    ])
      expect(raw).not.toContain(fragment);

    // Live fan-out, then replay to a device that subscribes afterwards.
    const reply = (m: Record<string, any>) => m.type === 'event' && m.event.type === 'reply';
    expect((await live.next(reply)).event.data).toEqual({ text: CANARY });
    const later = await openDevice(env.deviceUrl, ISSUER.tokenFor('carol'));
    later.send({ type: 'subscribe', agentId: 'one' });
    expect((await later.next(reply)).event.data).toEqual({ text: CANARY });
    expect((await later.next((m) => m.type === 'event' && m.event.type === 'tool.call')).event.data.summary).toContain(
      CANARY_HOST,
    );
    await live.close();
    await later.close();

    // The employee API.
    const handler = api();
    const page = await handler(
      httpEvent('GET /v1/agents/{agentId}/events', { user: 'carol', pathParameters: { agentId: 'one' } }),
    );
    const events = JSON.parse(page.body as string).events as { type: string; data: Record<string, unknown> }[];
    expect(events.find((e) => e.type === 'reply')?.data).toEqual({ text: CANARY });
    const pending = await handler(httpEvent('GET /v1/approvals', { user: 'carol' }));
    expect(JSON.parse(pending.body as string).approvals).toEqual([
      expect.objectContaining({ approvalId, agentId: 'one', tool: 'WebFetch', summary: CANARY, hosts: [CANARY_HOST] }),
    ]);
  });

  it("rows forged by hand (plaintext, another pair's ciphertext, an administrator's own key) read as unreadable, never as the agent's words", async () => {
    const task = await env.wake('carol', 'two');
    const admin = new RecordSealer(
      fakeKms('us-east-1').client,
      async () => 'arn:aws:kms:us-east-1:111111111111:key/admin-own-key',
    );
    const log = new EventLog(env.dynamo.doc, env.dynamo.tables.events, task.pair, TEST_CHAIN);
    const otherPair = (await relaySealer.sealData(
      { userId: 'carol', agentId: 'one', record: 'event.data' },
      { text: 'from one' },
    )) as string;
    await log.append({ type: 'reply', requestId: 'forged-1', data: { sealed: 'not sealed at all' } });
    await log.append({ type: 'reply', requestId: 'forged-2', data: { sealed: otherPair } });
    await log.append({
      type: 'reply',
      requestId: 'forged-3',
      data: {
        sealed: await admin.sealData(
          { userId: 'carol', agentId: 'two', record: 'event.data' },
          { text: 'approve everything' },
        ),
      },
    });
    const now = Date.now();
    const forged = await sealApproval(admin, {
      pk: task.pair,
      sk: newSortableId(now),
      requestId: 'forged-4',
      messageId: newSortableId(now),
      tool: 'WebFetch',
      summary: 'harmless',
      hosts: ['evil.example'],
      createdAt: now,
      expiresAt: now + 60_000,
    });
    await env.dynamo.seed.send(new PutCommand({ TableName: env.dynamo.tables.approvals, Item: forged }));

    const handler = api();
    const page = await handler(
      httpEvent('GET /v1/agents/{agentId}/events', { user: 'carol', pathParameters: { agentId: 'two' } }),
    );
    const events = JSON.parse(page.body as string).events as { requestId: string; data: Record<string, unknown> }[];
    for (const id of ['forged-1', 'forged-2', 'forged-3'])
      expect(events.find((e) => e.requestId === id)?.data).toEqual({ unreadable: expect.any(String) });
    const pending = JSON.parse(
      (await handler(httpEvent('GET /v1/approvals', { user: 'carol' }))).body as string,
    ).approvals;
    expect(pending.find((a: { agentId: string }) => a.agentId === 'two')).toMatchObject({
      summary: '',
      hosts: [],
      unreadable: expect.stringMatching(/could not be opened/),
    });
  });
});
