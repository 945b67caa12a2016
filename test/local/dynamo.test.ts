/**
 * The DynamoDB stand-in: dynalite persisted in the data directory, with the control-plane tables (the
 * sparse active index included) created once and found again after a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { ACTIVE_INDEX, activeShardOf, pairKey } from '../../runtime/shared/tables';
import { startDynamo } from '../../local/dynamo/server';
import { localTableNames } from '../../local/dynamo/tables';

const dir = mkdtempSync(path.join(tmpdir(), 'cubicle-dynamo-'));
const tables = localTableNames('acme');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function clients(endpoint: string) {
  const client = new DynamoDBClient({
    endpoint,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  return { client, doc: DynamoDBDocumentClient.from(client) };
}

describe('DynamoDB stand-in', () => {
  it('creates the tables with their index, and keeps rows across a restart', async () => {
    const pk = pairKey('alice', 'sales');
    const first = await startDynamo(dir, 'eu-west-1', tables);
    const a = clients(first.endpoint);
    const described = await a.client.send(new DescribeTableCommand({ TableName: tables.sessions }));
    expect(described.Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual([ACTIVE_INDEX.name]);
    await a.doc.send(
      new PutCommand({ TableName: tables.sessions, Item: { pk, status: 'RUNNING', activeShard: activeShardOf(pk) } }),
    );
    a.client.destroy();
    await first.close();

    // Same directory, new server: the tables are found (not re-created) and the row is there.
    const second = await startDynamo(dir, 'eu-west-1', tables);
    const b = clients(second.endpoint);
    expect((await b.doc.send(new GetCommand({ TableName: tables.sessions, Key: { pk } }))).Item).toMatchObject({
      status: 'RUNNING',
    });
    const active = await b.doc.send(
      new QueryCommand({
        TableName: tables.sessions,
        IndexName: ACTIVE_INDEX.name,
        KeyConditionExpression: '#s = :s',
        ExpressionAttributeNames: { '#s': ACTIVE_INDEX.partitionKey },
        ExpressionAttributeValues: { ':s': activeShardOf(pk) },
      }),
    );
    expect(active.Items?.map((i) => i.pk)).toEqual([pk]);
    b.client.destroy();
    await second.close();
  });
});
