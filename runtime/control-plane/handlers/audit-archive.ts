import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { ARCHIVE_ENV, ENV, parseEnv } from '../env';
import { deferred, lazy } from './lazy';
import { functionLogger } from './logger';

const env = parseEnv(ARCHIVE_ENV);

const ready = lazy(async () => {
  const [logger, { S3Client }, { traced }, archive] = await Promise.all([
    functionLogger(),
    import('@aws-sdk/client-s3'),
    import('../aws/tracing.js'),
    import('../audit-archive.js'),
  ]);
  const notifier = env[ENV.notifierFunction];
  // The topic's and the notifier's clients load on their first use: most batches need neither.
  const deps = {
    s3: traced(new S3Client({})),
    sns: deferred(async () => traced(new (await import('@aws-sdk/client-sns')).SNSClient({})), ['send']),
    bucket: env[ENV.archiveBucket],
    topicArn: env[ENV.securityTopic],
    log: logger,
    ...(notifier ? { notify: notifierInvoker(notifier, traced) } : {}),
  };
  return (records: DynamoDBStreamEvent['Records']) => archive.archiveRecords(deps, records);
});

/** The Events stream (new images): archive INSERTs, raise MODIFY and REMOVE; a failed record is retried from there. */
export async function handler(event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> {
  const logger = await functionLogger();
  logger.addContext(context);
  const failed = await (await ready())(event.Records);
  return { batchItemFailures: failed !== undefined ? [{ itemIdentifier: failed }] : [] };
}

/** An asynchronous invoke (Lambda queues it and retries it twice): the archive never waits for a mail. */
function notifierInvoker(functionName: string, traced: <T>(client: T) => T): (request: object) => Promise<void> {
  const lambda = lazy(async () => {
    const { InvokeCommand, LambdaClient } = await import('@aws-sdk/client-lambda');
    return { InvokeCommand, client: traced(new LambdaClient({})) };
  });
  return async (request) => {
    const { InvokeCommand, client } = await lambda();
    await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify(request)),
      }),
    );
  };
}
