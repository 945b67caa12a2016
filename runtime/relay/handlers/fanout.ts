import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { parseEnv } from '../../control-plane/env';
import { lazy } from '../../control-plane/handlers/lazy';
import { functionLogger } from '../../control-plane/handlers/logger';
import { deferredSealer } from '../../control-plane/handlers/sealer';
import type { EventRow } from '../../shared/rows';
import { FANOUT_RELAY_ENV, RELAY_ENV } from '../env';
import { deferredPoster } from './poster';

const env = parseEnv(FANOUT_RELAY_ENV);

const ready = lazy(async () => {
  const [logger, { documentClient }, fanout] = await Promise.all([
    functionLogger(),
    import('../../control-plane/aws/dynamo.js'),
    import('../fanout.js'),
  ]);
  const deps = {
    doc: documentClient(),
    eventsTable: env[RELAY_ENV.eventsTable],
    connectionsTable: env[RELAY_ENV.connectionsTable],
    devices: deferredPoster(env[RELAY_ENV.deviceEndpoint]),
    runtimes: deferredPoster(env[RELAY_ENV.runtimeEndpoint]),
    opener: deferredSealer(env[RELAY_ENV.deployment]),
    now: Date.now,
  };
  return { logger, deps, fanout };
});

/** `table/<name>/stream/...` in a stream record's source ARN. */
const tableOf = (arn: string | undefined) => /:table\/([^/]+)\/stream\//.exec(arn ?? '')?.[1];

/**
 * The Events (new images) and Inbox (keys) streams. A failure reports the batch's first record as failed,
 * so the stream retries from there (ReportBatchItemFailures); deliveries are idempotent per cursor.
 */
export async function handler(event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> {
  const { logger, deps, fanout } = await ready();
  logger.addContext(context);
  const records = event.Records.filter((r) => r.eventName === 'INSERT');
  const events = records.filter((r) => tableOf(r.eventSourceARN) === env[RELAY_ENV.eventsTable]);
  const inbox = records.filter((r) => tableOf(r.eventSourceARN) === env[RELAY_ENV.inboxTable]);
  try {
    await fanout.fanOutEvents(
      deps,
      events.map((r) => unmarshall(r.dynamodb?.NewImage as never) as EventRow),
    );
    await fanout.nudgeInbox(
      deps,
      inbox.map((r) => String(unmarshall(r.dynamodb?.Keys as never).pk)),
    );
    return { batchItemFailures: [] };
  } catch (error) {
    logger.error('fan-out failed', { error: error as Error, records: event.Records.length });
    const first = event.Records[0]?.dynamodb?.SequenceNumber;
    return { batchItemFailures: first ? [{ itemIdentifier: first }] : [] };
  }
}
