/**
 * DynamoDB: dynalite on loopback, persisted in `<data>/dynamodb` (LevelDB through `classic-level`, whose
 * npm package ships prebuilt binaries, so nothing is compiled or downloaded at install).
 * Not emulated: IAM (dynamodb:LeadingKeys), encryption at rest, TTL, transactions (TOOLCHAIN.md).
 */
import type { Server } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { TableName } from '../../runtime/shared/tables';
import { closeServer, listenLoopback } from '../aws/json-server';
import { ensureTables } from './tables';

// dynalite ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: { path?: string; createTableMs?: number; updateTableMs?: number }) => Server;

export interface LocalDynamo {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startDynamo(dir: string, region: string, tables: Record<TableName, string>): Promise<LocalDynamo> {
  const server = dynalite({ path: dir, createTableMs: 0, updateTableMs: 0 });
  const endpoint = await listenLoopback(server);
  // dynalite accepts any credentials: it checks none (see the header).
  const client = new DynamoDBClient({ endpoint, region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 2 });
  try {
    await ensureTables(client, tables);
  } catch (error) {
    await closeServer(server);
    throw error;
  } finally {
    client.destroy();
  }
  // dynalite's close also closes its LevelDB (and releases the directory's lock).
  return { endpoint, close: () => closeServer(server) };
}
