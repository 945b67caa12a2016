import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { archiveRecords } from '../../../runtime/control-plane/audit-archive';
import { MAX_MAILS_PER_HOUR, notify, type NotifierDeps } from '../../../runtime/control-plane/notifications';
import type { NotifyRequest } from '../../../runtime/control-plane/notified-events';
import { pairKey } from '../../../runtime/shared/tables';
import { startDynamo, type TestDynamo } from '../../support/dynamo';
import { Clock, ROSTER } from './support/fixtures';

/**
 * Email notifications (runtime/control-plane/notifications.ts) with SES faked at the client and the
 * Idempotency table on dynalite: the exact mail, one per event, a cap per user and hour, a failed send
 * retried, and the audit archiver handing over only the notified types, never their data.
 */
const ses = new SESv2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const sesMock = mockClient(ses);
let dynamo: TestDynamo;
const clock = new Clock(Date.UTC(2026, 10, 28, 9, 0, 0));
const logs: Record<string, unknown>[] = [];
let deps: NotifierDeps;
let seq = 0;

beforeAll(async () => {
  dynamo = await startDynamo({ writer: 'notifier' });
  deps = {
    ses,
    doc: dynamo.doc,
    idempotencyTable: dynamo.tables.idempotency,
    roster: ROSTER,
    from: 'cubicle@acme.example',
    consoleUrl: 'https://d1234.cloudfront.net/',
    now: clock.now,
    log: {
      info: (msg: string, f?: object) => void logs.push({ msg, ...f }),
      warn: (msg: string, f?: object) => void logs.push({ msg, ...f }),
    } as NotifierDeps['log'],
  };
});
afterAll(async () => {
  await dynamo.close();
});
beforeEach(() => {
  sesMock.reset();
  sesMock.on(SendEmailCommand).resolves({ MessageId: 'm-1' });
  logs.length = 0;
});

const request = (type: string, agentId = 'sales', userId = 'alice'): NotifyRequest => ({
  pk: pairKey(userId, agentId),
  sk: ++seq,
  type,
});

describe('the notifier', () => {
  it("sends one plain mail from the platform's address to the employee's roster address: which agent, what kind, a console link, nothing else", async () => {
    expect(await notify(deps, request('approval.requested'))).toBe('sent');
    const calls = sesMock.commandCalls(SendEmailCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input).toEqual({
      FromEmailAddress: 'cubicle@acme.example',
      Destination: { ToAddresses: ['alice@acme.example'] },
      Content: {
        Simple: {
          Subject: { Data: 'Cubicle: sales is waiting for your approval', Charset: 'UTF-8' },
          Body: {
            Text: {
              Data:
                'Your agent sales wants to reach the outside world and is waiting for you to approve or deny it. Requests expire after about 10 minutes.\n\n' +
                'Open Cubicle: https://d1234.cloudfront.net/#/agents/sales\n\n' +
                "You get this mail because your platform team turned on Cubicle's email notifications.\n",
              Charset: 'UTF-8',
            },
          },
        },
      },
    });
    expect(logs).toEqual([
      { msg: 'notification sent', user_id: 'alice', agent_id: 'sales', type: 'approval.requested' },
    ]);
  });

  it('mails the 80 % budget notice the relay appends (runtime/relay/runtime-usage.ts), without amounts', async () => {
    expect(await notify(deps, request('budget.threshold', 'finance', 'bruno'))).toBe('sent');
    const [call] = sesMock.commandCalls(SendEmailCommand);
    expect(call.args[0].input.Destination).toEqual({ ToAddresses: ['bruno@acme.example'] });
    expect(call.args[0].input.Content?.Simple?.Subject?.Data).toBe('Cubicle: finance is close to its budget');
    expect(call.args[0].input.Content?.Simple?.Body?.Text?.Data).toMatch(
      /^Your agent finance has used most of this month's budget\. New messages are refused once the budget is reached\./,
    );
  });

  it('sends once per event however often it is delivered, and nothing for types that are not notified or users not in the roster', async () => {
    const once = request('message.failed');
    expect(await Promise.all([notify(deps, once), notify(deps, once), notify(deps, once)])).toEqual(
      expect.arrayContaining(['sent', 'duplicate', 'duplicate']),
    );
    expect(await notify(deps, request('reply'))).toBe('not-notified');
    expect(await notify(deps, request('tool.call'))).toBe('not-notified');
    expect(await notify(deps, request('approval.requested', 'sales', 'mallory'))).toBe('unknown-user');
    expect(sesMock.commandCalls(SendEmailCommand)).toHaveLength(1);
  });

  it(`caps each user at ${MAX_MAILS_PER_HOUR} mails an hour, and starts again the next hour`, async () => {
    clock.advance(3_600_000);
    const outcomes = [];
    for (let i = 0; i < MAX_MAILS_PER_HOUR + 3; i += 1)
      outcomes.push(await notify(deps, request('approval.requested', 'finance', 'bruno')));
    expect(outcomes.filter((o) => o === 'sent')).toHaveLength(MAX_MAILS_PER_HOUR);
    expect(outcomes.slice(MAX_MAILS_PER_HOUR)).toEqual(['rate-limited', 'rate-limited', 'rate-limited']);
    expect(logs.filter((l) => l.msg === 'notification not sent: hourly limit reached')).toHaveLength(3);
    // Another user is not held back by bruno's agents.
    expect(await notify(deps, request('approval.requested', 'sales', 'alice'))).toBe('sent');
    clock.advance(3_600_000);
    expect(await notify(deps, request('approval.requested', 'finance', 'bruno'))).toBe('sent');
  });

  it('forgets an event whose mail SES refused, so the retry of the invocation sends it', async () => {
    clock.advance(3_600_000);
    const event = request('lifecycle.failed');
    sesMock
      .on(SendEmailCommand)
      .rejectsOnce(Object.assign(new Error('Throttling'), { name: 'TooManyRequestsException' }))
      .resolves({ MessageId: 'm-2' });
    await expect(notify(deps, event)).rejects.toThrow('Throttling');
    expect(await notify(deps, event)).toBe('sent');
    expect(sesMock.commandCalls(SendEmailCommand)).toHaveLength(2);
  });
});

describe('the audit archiver hands notified events over', () => {
  const record = (row: Record<string, unknown>): DynamoDBRecord => ({
    eventName: 'INSERT',
    dynamodb: { NewImage: marshall(row) as never, SequenceNumber: String(row.sk) },
  });
  const row = (sk: number, type: string) => ({
    pk: pairKey('alice', 'sales'),
    sk,
    type,
    at: 1,
    requestId: 'r',
    data: { sealed: 'cubicle-sealed:v1:CANARY-DATA' },
    prevHash: 'p',
    hash: 'h',
  });
  const archiveDeps = (notified: NotifyRequest[], fail = false) => ({
    s3: { send: async () => ({}) },
    sns: { send: async () => ({}) },
    bucket: 'b',
    topicArn: 'arn:aws:sns:eu-west-1:111111111111:t',
    log: { warn: (msg: string, f?: object) => void logs.push({ msg, ...f }) },
    notify: async (r: NotifyRequest) => {
      if (fail) throw new Error('Lambda unavailable');
      notified.push(r);
    },
  });

  it("only the notified types, by pair, sequence and type: never the event's data", async () => {
    const notified: NotifyRequest[] = [];
    const types = [
      'message.started',
      'reply',
      'approval.requested',
      'tool.call',
      'message.failed',
      'lifecycle.failed',
      'usage',
      'budget.threshold',
    ];
    expect(
      await archiveRecords(
        archiveDeps(notified) as never,
        types.map((t, i) => record(row(i + 1, t))),
      ),
    ).toBeUndefined();
    expect(notified).toEqual([
      { pk: 'alice#sales', sk: 3, type: 'approval.requested' },
      { pk: 'alice#sales', sk: 5, type: 'message.failed' },
      { pk: 'alice#sales', sk: 6, type: 'lifecycle.failed' },
      { pk: 'alice#sales', sk: 8, type: 'budget.threshold' },
    ]);
    expect(JSON.stringify(notified)).not.toContain('CANARY');
  });

  it('a notifier that cannot be reached never holds the archive back', async () => {
    expect(
      await archiveRecords(archiveDeps([], true) as never, [
        record(row(7, 'approval.requested')),
        record(row(8, 'reply')),
      ]),
    ).toBeUndefined();
    expect(logs).toEqual([
      { msg: 'notification not handed over', error: 'Lambda unavailable', type: 'approval.requested' },
    ]);
  });
});
