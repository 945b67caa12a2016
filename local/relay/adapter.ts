/**
 * A local stand-in for API Gateway WebSocket APIs: a real `ws` server that turns WebSocket connections
 * into the events the relay handlers take (`$connect` with the upgrade request's headers and query
 * string, `$default` per text message, `$disconnect`), and serves the @connections management API
 * (PostToConnection, DeleteConnection, GetConnection) over HTTP at `<path>/@connections/<id>`, where the
 * handlers' ApiGatewayManagementApiClient reaches it through its `endpoint`. The handler code is the AWS
 * code unchanged. Tests drive real `ws` clients through it; local mode serves the same.
 *
 * Like API Gateway: a `$connect` answer other than 2xx refuses the handshake with that status; the
 * subprotocol the handler selects (`Sec-WebSocket-Protocol` in its answer) is the one agreed; an
 * IAM-authorized API refuses unsigned or badly signed upgrades with 403 before the handler runs. Unlike
 * it: one process, loopback only, and each connection's messages are handled one at a time, in order.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { WsEvent, WsResult } from '../../runtime/relay/ws-event';
import type { IamStandIn } from './iam';

export interface LocalWebSocketApi {
  /** Public path of the WebSocket endpoint (`/v1/relay`); the management API is under `<path>/@connections`. */
  readonly path: string;
  readonly handler: (event: WsEvent) => Promise<WsResult>;
  /** IAM-authorized `$connect` (the runtime API). */
  readonly iam?: IamStandIn;
}

export interface RelayAdapterOptions {
  readonly apis: readonly LocalWebSocketApi[];
  readonly port?: number;
  readonly accountId?: string;
}

export interface RelayAdapter {
  readonly port: number;
  /** `ws://127.0.0.1:<port><path>` of an API. */
  url(path: string): string;
  /** The management endpoint for ApiGatewayManagementApiClient (`http://127.0.0.1:<port><path>`). */
  managementEndpoint(path: string): string;
  /** Open connections by id (tests observe them). */
  readonly connections: ReadonlyMap<string, WebSocket>;
  /**
   * Closes every open connection of the API at `path` abnormally (1006 at the client), as API Gateway does
   * at its 2-hour connection limit or a network drop; returns how many. Clients must reconnect and resume.
   */
  drop(path: string): number;
  /** Takes an upgrade another server received (local mode serves `/v1/relay` on its front port). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): Promise<void>;
}

interface Connection {
  readonly socket: WebSocket;
  readonly api: LocalWebSocketApi;
  queue: Promise<unknown>;
  readonly connectedAt: number;
}

export async function startRelayAdapter(options: RelayAdapterOptions): Promise<RelayAdapter> {
  const accountId = options.accountId ?? '000000000000';
  const open = new Map<string, Connection>();
  const sockets = new Map<string, WebSocket>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 128 * 1024,
    handleProtocols: (_offered, req) => selected.get(req) ?? false,
  });
  const selected = new WeakMap<IncomingMessage, string>();
  const apiAt = (pathname: string) => options.apis.find((api) => api.path === pathname);
  let requests = 0;
  let closing = false;
  /** `$disconnect` invocations still running (they write to the tables: close() waits for them). */
  const disconnecting = new Set<Promise<unknown>>();

  const base = (
    api: LocalWebSocketApi,
    connectionId: string,
    routeKey: string,
    eventType: WsEvent['requestContext']['eventType'],
  ) => ({
    routeKey,
    eventType,
    connectionId,
    requestId: `local-${++requests}`,
    accountId,
  });

  const invoke = async (api: LocalWebSocketApi, event: WsEvent): Promise<WsResult> => {
    if (closing && event.requestContext.routeKey !== '$disconnect') return { statusCode: 410 };
    try {
      return await api.handler(event);
    } catch {
      return { statusCode: 500 };
    }
  };

  const server: Server = createServer((req, res) => void manage(req, res));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void upgrade(req, socket, head));

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy()); // a client that gave up mid-handshake
    const url = new URL(req.url ?? '/', 'http://local');
    const api = apiAt(url.pathname);
    if (!api || closing) return refuseUpgrade(socket, closing ? 410 : 404, 'no such API');
    let userArn: string | undefined;
    if (api.iam) {
      userArn = await api.iam.verify(req);
      if (!userArn) return refuseUpgrade(socket, 403, 'Forbidden');
    }
    const connectionId = randomBytes(12).toString('base64url');
    const query = Object.fromEntries(url.searchParams);
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]),
    );
    const result = await invoke(api, {
      requestContext: {
        ...base(api, connectionId, '$connect', 'CONNECT'),
        identity: { sourceIp: req.socket.remoteAddress ?? '127.0.0.1', ...(userArn ? { userArn, accountId } : {}) },
      },
      headers,
      queryStringParameters: Object.keys(query).length > 0 ? query : undefined,
      isBase64Encoded: false,
    });
    if (result.statusCode < 200 || result.statusCode > 299)
      return refuseUpgrade(socket, result.statusCode, result.body ?? '');
    const protocol = Object.entries(result.headers ?? {}).find(
      ([k]) => k.toLowerCase() === 'sec-websocket-protocol',
    )?.[1];
    if (protocol) selected.set(req, protocol);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connection: Connection = { socket: ws, api, queue: Promise.resolve(), connectedAt: Date.now() };
      open.set(connectionId, connection);
      sockets.set(connectionId, ws);
      ws.on('error', () => ws.terminate()); // a reset client; 'close' follows
      ws.on('message', (data, isBinary) => {
        connection.queue = connection.queue.then(() =>
          invoke(api, {
            requestContext: base(api, connectionId, '$default', 'MESSAGE'),
            body: isBinary ? Buffer.from(data as Buffer).toString('base64') : data.toString(),
            isBase64Encoded: isBinary,
          }),
        );
      });
      ws.on('close', () => {
        open.delete(connectionId);
        sockets.delete(connectionId);
        const disconnected = connection.queue.then(() =>
          invoke(api, { requestContext: base(api, connectionId, '$disconnect', 'DISCONNECT') }),
        );
        connection.queue = disconnected;
        disconnecting.add(disconnected);
        void disconnected.finally(() => disconnecting.delete(disconnected));
      });
    });
  }

  /** The @connections API: POST sends a frame, DELETE closes, GET describes; 410 GoneException for unknown ids. */
  async function manage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const match = /^(.*)\/@connections\/([^/]+)$/.exec(url.pathname);
    const api = match ? apiAt(match[1]) : undefined;
    if (!match || !api) return answer(res, 404, { message: 'Not Found' });
    const connectionId = decodeURIComponent(match[2]);
    const connection = open.get(connectionId);
    if (!connection || connection.api !== api || connection.socket.readyState !== WebSocket.OPEN) {
      return answer(res, 410, { message: 'Gone' }, { 'x-amzn-errortype': 'GoneException' });
    }
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const data = Buffer.concat(chunks);
      if (data.length > 128 * 1024)
        return answer(res, 413, { message: 'Payload too large' }, { 'x-amzn-errortype': 'PayloadTooLargeException' });
      await new Promise<void>((resolve, reject) =>
        connection.socket.send(data.toString('utf8'), (error) => (error ? reject(error) : resolve())),
      );
      return answer(res, 200, {});
    }
    if (req.method === 'DELETE') {
      connection.socket.close(1000, 'closed by the server');
      return answer(res, 204);
    }
    if (req.method === 'GET')
      return answer(res, 200, {
        ConnectedAt: new Date(connection.connectedAt).toISOString(),
        Identity: { SourceIp: '127.0.0.1' },
      });
    return answer(res, 405, { message: 'Method Not Allowed' });
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path) => `ws://127.0.0.1:${port}${path}`,
    managementEndpoint: (path) => `http://127.0.0.1:${port}${path}`,
    connections: sockets,
    handleUpgrade: (req, socket, head) => void upgrade(req, socket, head),
    drop: (path) => {
      const dropped = [...open.values()].filter((c) => c.api.path === path);
      for (const { socket } of dropped) socket.terminate();
      return dropped.length;
    },
    close: async () => {
      closing = true; // queued messages are dropped; only the invocations already running and $disconnect finish
      const connections = [...open.values()];
      const terminated = connections.map(
        (c) =>
          new Promise<void>((resolve) =>
            c.socket.readyState === WebSocket.CLOSED ? resolve() : c.socket.once('close', () => resolve()),
          ),
      );
      for (const { socket } of connections) socket.terminate();
      await Promise.all(terminated);
      // Each 'close' queued its $disconnect, whose handler deletes the connection's row: a caller closes its
      // tables after this, so nothing may still be writing.
      await Promise.all([...connections.map((c) => c.queue), ...disconnecting]);
      wss.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections(); // the management clients keep connections alive
      await closed;
    },
  };
}

function refuseUpgrade(socket: Duplex, status: number, body: string): void {
  const reason =
    { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' }[
      status
    ] ?? 'Refused';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function answer(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}
