import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { ARCHIVE_ENV, ENV, parseEnv } from '../env';
import { lazy } from './lazy';

const logger = new Logger();
const env = parseEnv(ARCHIVE_ENV);

const ready = lazy(async () => {
  const [{ S3Client }, { SNSClient }, { traced }, archive] = await Promise.all([
    import('@aws-sdk/client-s3'),
    import('@aws-sdk/client-sns'),
    import('../aws/tracing.js'),
    import('../audit-archive.js'),
  ]);
  const deps = { s3: traced(new S3Client({})), sns: traced(new SNSClient({})), bucket: env[ENV.archiveBucket], topicArn: env[ENV.securityTopic], log: logger };
  return (records: DynamoDBStreamEvent['Records']) => archive.archiveRecords(deps, records);
});

/** The Events stream (new images): archive INSERTs, raise MODIFY and REMOVE; a failed record is retried from there. */
export async function handler(event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> {
  logger.addContext(context);
  const failed = await (await ready())(event.Records);
  return { batchItemFailures: failed !== undefined ? [{ itemIdentifier: failed }] : [] };
}
