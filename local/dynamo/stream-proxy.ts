/**
 * DynamoDB Streams, locally: dynalite has none, and in local mode the tables' writers are several processes
 * (the API, credential, task-event, reaper and launcher functions, and the relay), so the stand-in sits in
 * front of dynalite itself. Every request is forwarded as is; after a successful PutItem on the Events or
 * Inbox table, the new row goes to the same fan-out functions the stream handler calls in AWS
 * (runtime/relay/fanout.ts), in order and batched as a stream would (local/relay/stream.ts).
 */
import { request, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { EventRow } from '../../runtime/shared/rows';
import { closeServer, listenLoopback, readBody } from '../aws/json-server';
import { batcher, type StreamTargets } from '../relay/stream';

const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface StreamProxy {
  /** Where every local DynamoDB client points. */
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startStreamProxy(target: string, targets: StreamTargets): Promise<StreamProxy> {
  const events = batcher<EventRow>((rows) => targets.onEvents(rows), targets.onError);
  const inbox = batcher<string>((pairs) => targets.onInbox(pairs), targets.onError);
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => void forward(req, res));

  async function forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: Buffer;
    try {
      body = await readBody(req, MAX_BODY_BYTES);
    } catch {
      res.writeHead(413).end();
      return;
    }
    const proxied = request(
      { hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(chunks));
          if (answer.statusCode === 200) observe(String(req.headers['x-amz-target'] ?? ''), body);
        });
      },
    );
    proxied.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    proxied.end(body);
  }

  function observe(target: string, body: Buffer): void {
    if (!target.endsWith('.PutItem')) return;
    let input: { TableName?: string; Item?: Record<string, never> };
    try {
      input = JSON.parse(body.toString('utf8'));
    } catch {
      return;
    }
    if (!input.Item) return;
    const item = unmarshall(input.Item);
    if (input.TableName === targets.eventsTable) events(item as EventRow);
    else if (input.TableName === targets.inboxTable) inbox(String(item.pk));
  }

  const endpoint = await listenLoopback(server);
  return { endpoint, close: () => closeServer(server) };
}
