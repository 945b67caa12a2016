/**
 * A real DynamoDB-compatible server on loopback (dynalite) with the control-plane tables created from
 * the same shapes the Platform stack uses (runtime/shared/tables.ts), through the same CreateTable input as
 * local mode (local/dynamo/tables.ts), and a per-command call counter.
 */
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLES, type TableName } from '../../runtime/shared/tables';
import { createTableInput } from '../../local/dynamo/tables';
// dynalite ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: { createTableMs: number }) => import('node:http').Server;

export interface TestDynamo {
  readonly doc: DynamoDBDocumentClient;
  readonly tables: Record<TableName, string>;
  /** DynamoDB commands sent since the last reset, by command name (ScanCommand must stay absent). */
  readonly calls: Map<string, number>;
  total(): number;
  reset(): void;
  close(): Promise<void>;
}

let counter = 0;

/** `maxAttempts` 1 by default, so call counts are exact; process tests on a busy machine retry. */
export async function startDynamo(options: { maxAttempts?: number } = {}): Promise<TestDynamo> {
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: options.maxAttempts ?? 1,
  });
  const calls = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => (args) => {
      calls.set(context.commandName as string, (calls.get(context.commandName as string) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  counter += 1;
  const tables = {} as Record<TableName, string>;
  for (const [name, spec] of Object.entries(TABLES) as [TableName, (typeof TABLES)[TableName]][]) {
    const tableName = `${spec.id}-${process.pid}-${counter}`;
    await client.send(new CreateTableCommand(createTableInput(name, tableName)));
    tables[name] = tableName;
  }
  calls.clear();
  return {
    doc,
    tables,
    calls,
    total: () => [...calls.values()].reduce((a, b) => a + b, 0),
    reset: () => calls.clear(),
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
