/**
 * A real DynamoDB-compatible server on loopback (dynalite) with the control-plane tables created from
 * the same shapes the Platform stack uses (runtime/shared/tables.ts), through the same CreateTable input as
 * local mode (local/dynamo/tables.ts), and a per-command call counter.
 *
 * Every write through `doc` or `as(fn)` passes the write guard (write-guard.ts): it is evaluated against
 * the synthesized IAM policy of the function making it (`writer` / `as(fn)`; with neither, it must pass
 * the policy of some function that writes the table). `seed` writes test fixtures unchecked.
 */
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { WriterFunction } from '../../runtime/shared/table-writes';
import { TABLES, type TableName } from '../../runtime/shared/tables';
import { guardWrites, UNCHECKED, writingAs } from './write-guard';
import { createTableInput } from '../../local/dynamo/tables';
// dynalite ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: { createTableMs: number }) => import('node:http').Server;

export interface TestDynamo {
  /** Writes checked against `writer`'s policy (or some writer's, when none was given). */
  readonly doc: DynamoDBDocumentClient;
  /** A client whose writes are checked against `fn`'s synthesized policy (one per function, cached). */
  as(fn: WriterFunction): DynamoDBDocumentClient;
  /** Unchecked: fixtures a test puts in place (rows no handler of the test writes). */
  readonly seed: DynamoDBDocumentClient;
  readonly tables: Record<TableName, string>;
  /** DynamoDB commands sent since the last reset, by command name (ScanCommand must stay absent). */
  readonly calls: Map<string, number>;
  total(): number;
  reset(): void;
  close(): Promise<void>;
}

let counter = 0;

/** `maxAttempts` 1 by default, so call counts are exact; process tests on a busy machine retry. */
export async function startDynamo(
  options: { maxAttempts?: number; writer?: WriterFunction } = {},
): Promise<TestDynamo> {
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const calls = new Map<string, number>();
  const tables = {} as Record<TableName, string>;
  const tableOf = (physical: string) => (Object.keys(tables) as TableName[]).find((name) => tables[name] === physical);
  // One client for every writer, so middleware others attach (local/relay/stream.ts) sees every write; the
  // writer travels with each command (tagged by `as` and `seed`).
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: options.maxAttempts ?? 1,
  });
  client.middlewareStack.add(
    (next, context) => (args) => {
      calls.set(context.commandName as string, (calls.get(context.commandName as string) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  // Under Vitest only: the policies come from the run's synthesized example (vitest's `inject`), and the
  // benches that start the same stand-ins (scripts/bench-*.ts) run outside it. Loaded on first write.
  if (process.env.VITEST) {
    const policies = async () => (await import('./write-policies.js')).exampleWritePolicies();
    guardWrites(client, { policies, tableOf, writer: () => options.writer });
  }
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const seed = writingAs(doc, UNCHECKED);
  const byWriter = new Map<WriterFunction, DynamoDBDocumentClient>();
  const as = (fn: WriterFunction) => {
    if (!byWriter.has(fn)) byWriter.set(fn, writingAs(doc, fn));
    return byWriter.get(fn)!;
  };
  counter += 1;
  for (const [name, spec] of Object.entries(TABLES) as [TableName, (typeof TABLES)[TableName]][]) {
    const tableName = `${spec.id}-${process.pid}-${counter}`;
    await client.send(new CreateTableCommand(createTableInput(name, tableName)));
    tables[name] = tableName;
  }
  calls.clear();
  return {
    doc,
    as,
    seed,
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

/** Every item of every table, raw (attribute-value JSON), as one string: what a table reader would see. */
export async function rawItemsText(dynamo: TestDynamo): Promise<string> {
  const client = dynamo.seed as unknown as { send: (c: ScanCommand) => Promise<{ Items?: unknown[] }> };
  const all: unknown[] = [];
  for (const table of Object.values(dynamo.tables))
    all.push(...((await client.send(new ScanCommand({ TableName: table }))).Items ?? []));
  return JSON.stringify(all);
}
