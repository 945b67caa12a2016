/**
 * Email notifications (config `notifications.email`, off by default): an employee is told by mail when one
 * of their agents waits for an approval, fails a message or fails to run, or when a budget threshold is
 * crossed. The audit archiver, which already reads every new Events row from the table's stream, hands
 * these rows' (pair, sequence, type) to the notifier function (a third stream consumer would exceed what
 * DynamoDB Streams recommends per shard: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html).
 *
 * A mail says which agent and what kind of event, with a link to the console; never a message, a reply, a
 * summary or a secret (the event's data is sealed, and the notifier does not hold the keys to open it). It
 * is sent from the platform's own address, to the roster's address of the user. At most one mail per event
 * (a redelivered row is a conditional write that fails) and at most MAX_MAILS_PER_HOUR per user.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { SESv2Client } from '@aws-sdk/client-sesv2';
import { DeleteCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { expression, isConditionFailure } from '../shared/expressions';
import { platformKey } from './idempotency';
import type { Roster } from './roster';
import { parsePairKey } from '../shared/tables';
import { isNotified, NOTIFIED_EVENTS, type NotifyRequest } from './notified-events';

/** At most this many mails per user per clock hour: an agent stuck in a loop does not flood a mailbox. */
export const MAX_MAILS_PER_HOUR = 12;
/** The dedupe and rate rows expire (the Idempotency table's TTL attribute) after this. */
const KEEP_SECONDS = 2 * 24 * 3600;

export interface NotifierDeps {
  readonly ses: Pick<SESv2Client, 'send'>;
  readonly doc: DynamoDBDocumentClient;
  readonly idempotencyTable: string;
  readonly roster: Roster;
  /** The verified sender (config `notifications.email.from`). */
  readonly from: string;
  /** The console's address (the ControlPlane stack's ConsoleUrl). */
  readonly consoleUrl: string;
  readonly now: () => number;
  readonly log: Pick<Logger, 'info' | 'warn'>;
}

export type NotifyOutcome = 'sent' | 'duplicate' | 'rate-limited' | 'not-notified' | 'unknown-user';

export function notificationMail(type: string, agentId: string, consoleUrl: string): { subject: string; text: string } {
  const kind = NOTIFIED_EVENTS[type];
  const link = `${consoleUrl.replace(/\/$/, '')}/#/agents/${encodeURIComponent(agentId)}`;
  return {
    subject: kind.subject(agentId),
    text: `${kind.line(agentId)}\n\nOpen Cubicle: ${link}\n\nYou get this mail because your platform team turned on Cubicle's email notifications.\n`,
  };
}

export async function notify(deps: NotifierDeps, request: NotifyRequest): Promise<NotifyOutcome> {
  if (!isNotified(request.type)) return 'not-notified';
  const { userId, agentId } = parsePairKey(request.pk);
  const user = deps.roster.user(userId);
  if (!user) return 'unknown-user';
  const now = deps.now();
  const expiresAt = Math.floor(now / 1000) + KEEP_SECONDS;
  // One mail per event, however often the stream or Lambda delivers it.
  try {
    await deps.doc.send(
      new PutCommand({
        TableName: deps.idempotencyTable,
        // Never a client's key (platformKey): these rows cannot meet an Idempotency-Key of POST /messages.
        Item: { pk: request.pk, sk: platformKey('notify', request.sk), expiresAt },
        ...expression({ ConditionExpression: 'attribute_not_exists(#pk)' }),
      }),
    );
  } catch (error) {
    if (isConditionFailure(error)) return 'duplicate';
    throw error;
  }
  const hour = Math.floor(now / 3_600_000);
  try {
    await deps.doc.send(
      new UpdateCommand({
        TableName: deps.idempotencyTable,
        // `<user>#` is no pair's key (agent ids are never empty): one counter per user and hour.
        Key: { pk: `${userId}#`, sk: platformKey('notify-rate', hour) },
        ...expression(
          {
            UpdateExpression: 'ADD #sent :one SET #expiresAt = :expiresAt',
            ConditionExpression: 'attribute_not_exists(#sent) OR #sent < :max',
          },
          { one: 1, max: MAX_MAILS_PER_HOUR, expiresAt },
        ),
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    deps.log.warn('notification not sent: hourly limit reached', {
      user_id: userId,
      agent_id: agentId,
      type: request.type,
    });
    return 'rate-limited';
  }
  const mail = notificationMail(request.type, agentId, deps.consoleUrl);
  try {
    // Imported here, inside the try (a failed load forgets the event too): a duplicate or rate-limited request,
    // which sends nothing, does not load the SES client (issue 15).
    const { SendEmailCommand } = await import('@aws-sdk/client-sesv2');
    await deps.ses.send(
      new SendEmailCommand({
        FromEmailAddress: deps.from,
        Destination: { ToAddresses: [user.email] },
        Content: {
          Simple: {
            Subject: { Data: mail.subject, Charset: 'UTF-8' },
            Body: { Text: { Data: mail.text, Charset: 'UTF-8' } },
          },
        },
      }),
    );
  } catch (error) {
    // Not sent: forget the event so Lambda's retry of this invocation sends it.
    await deps.doc
      .send(
        new DeleteCommand({
          TableName: deps.idempotencyTable,
          Key: { pk: request.pk, sk: platformKey('notify', request.sk) },
        }),
      )
      .catch(() => undefined);
    throw error;
  }
  deps.log.info('notification sent', { user_id: userId, agent_id: agentId, type: request.type });
  return 'sent';
}
