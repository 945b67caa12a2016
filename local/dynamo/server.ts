/**
 * DynamoDB: dynalite on loopback, persisted in `<data>/dynamodb` (LevelDB through `classic-level`, whose
 * npm package ships prebuilt binaries, so nothing is compiled or downloaded at install).
 * Not emulated: IAM (dynamodb:LeadingKeys), encryption at rest, TTL, transactions (TOOLCHAIN.md).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { TableName } from '../../runtime/shared/tables';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { closeServer, listenLoopback } from '../aws/json-server';
import { ensureTables } from './tables';

// dynalite ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: {
  path?: string;
  createTableMs?: number;
  updateTableMs?: number;
}) => Server;

/** How long closing waits for requests in flight to be answered. */
const DRAIN_MS = 5_000;

export interface LocalDynamo {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startDynamo(
  dir: string,
  region: string,
  tables: Record<TableName, string>,
): Promise<LocalDynamo> {
  const server = dynalite({ path: dir, createTableMs: 0, updateTableMs: 0 });
  const endpoint = await listenLoopback(server);
  // dynalite accepts any credentials: it checks none (see the header).
  const client = new DynamoDBClient({
    endpoint,
    region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 2,
  });
  try {
    await ensureTables(client, tables);
  } catch (error) {
    await closeServer(server);
    throw error;
  } finally {
    client.destroy();
  }
  // dynalite's close also closes its LevelDB (and releases the directory's lock), while a request it
  // already accepted may still be reading it ("Database is not open" thrown from inside dynalite): stop
  // accepting, let the requests in flight answer, then close.
  const inFlight = new Set<ServerResponse>();
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  return {
    endpoint,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + DRAIN_MS;
      while (inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      server.closeAllConnections();
      await closed;
    },
  };
}
