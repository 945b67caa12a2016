/**
 * The SDK's own floor under a function's first call (bench:control-plane bundles this file as every function is
 * bundled and times it as their first calls are timed): one DynamoDB Query through a bare client, nothing else. A
 * function whose first call makes any AWS request loads at least this: node's HTTP and crypto modules, the client,
 * its credential and endpoint resolution, and SigV4.
 */
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';

export async function handler(): Promise<void> {
  await new DynamoDBClient({}).send(
    new QueryCommand({
      TableName: 'sessions',
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: 'alice#sales' } },
    }),
  );
}
