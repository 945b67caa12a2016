/**
 * The floor under a first call of the functions' own DynamoDB client (bench:control-plane, as scripts/bench/sdk-floor.ts):
 * the same Query through runtime/control-plane/aws/dynamo.ts, the document client wrapped by the Powertools tracer
 * (every SDK call a subsegment under active tracing), so the step from the SDK's floor to this one is the tracer's.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../runtime/control-plane/aws/dynamo';

export async function handler(): Promise<void> {
  await documentClient().send(
    new QueryCommand({
      TableName: 'sessions',
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': 'alice#sales' },
    }),
  );
}
