/**
 * The control-plane tables, created from the same definitions as the Platform stack's
 * (lib/constructs/control-plane-tables.ts): TABLES for keys, ACTIVE_INDEX for the sparse index.
 * test/local/matches-stacks.test.ts compares them with the synthesized template.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceNotFoundException,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { ACTIVE_INDEX, PARTITION_KEY, TABLES, type TableName } from '../../runtime/shared/tables';

/** Local table names: `<deployment>-<Id>` (CloudFormation generates them in AWS). */
export function localTableNames(deployment: string): Record<TableName, string> {
  return Object.fromEntries(Object.entries(TABLES).map(([name, spec]) => [name, `${deployment}-${spec.id}`])) as Record<
    TableName,
    string
  >;
}

export function createTableInput(name: TableName, tableName: string): CreateTableCommandInput {
  const spec = TABLES[name];
  const sortKey = 'sortKey' in spec ? spec.sortKey : undefined;
  const index = ACTIVE_INDEX.table === name ? ACTIVE_INDEX : undefined;
  const attributes = new Map<string, 'S' | 'N'>([[PARTITION_KEY, 'S']]);
  if (sortKey) attributes.set(sortKey.name, sortKey.type);
  if (index) {
    attributes.set(index.partitionKey, 'S');
    attributes.set(index.sortKey, 'S');
  }
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
    KeySchema: [
      { AttributeName: PARTITION_KEY, KeyType: 'HASH' },
      ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' as const }] : []),
    ],
    ...(index
      ? {
          GlobalSecondaryIndexes: [
            {
              IndexName: index.name,
              KeySchema: [
                { AttributeName: index.partitionKey, KeyType: 'HASH' },
                { AttributeName: index.sortKey, KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'ALL' },
            },
          ],
        }
      : {}),
  };
}

/** Creates the tables that do not exist yet and waits until all are ACTIVE. */
export async function ensureTables(client: DynamoDBClient, names: Record<TableName, string>): Promise<void> {
  await Promise.all(
    (Object.keys(names) as TableName[]).map(async (name) => {
      if (!(await describe(client, names[name])))
        await client.send(new CreateTableCommand(createTableInput(name, names[name])));
      for (let i = 0; i < 200; i += 1) {
        if ((await describe(client, names[name])) === 'ACTIVE') return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`table ${names[name]} did not become active`);
    }),
  );
}

async function describe(client: DynamoDBClient, tableName: string): Promise<string | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table?.TableStatus;
  } catch (error) {
    if (error instanceof ResourceNotFoundException || (error as Error).name === 'ResourceNotFoundException')
      return undefined;
    throw error;
  }
}
