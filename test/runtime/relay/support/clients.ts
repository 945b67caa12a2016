/** Real `ws` clients for relay tests: a device (bearer subprotocol) and helpers to await frames. */
import WebSocket from 'ws';
import { BEARER_SUBPROTOCOL_PREFIX, DEVICE_SUBPROTOCOL } from '../../../../runtime/shared/relay-protocol';

export interface Client {
  readonly ws: WebSocket;
  readonly received: Record<string, any>[];
  send(frame: unknown): void;
  /** The first received frame (from `from` on) matching, waiting up to `timeoutMs`. */
  next(match: (m: Record<string, any>) => boolean, timeoutMs?: number, from?: number): Promise<Record<string, any>>;
  readonly closed: Promise<{ code: number }>;
  close(): Promise<void>;
}

export function wrap(ws: WebSocket): Client {
  const received: Record<string, any>[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    received.push(JSON.parse(String(data)));
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<{ code: number }>((resolve) => ws.on('close', (code) => resolve({ code })));
  return {
    ws,
    received,
    closed,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    next(match, timeoutMs = 5_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = received.slice(from).find(match);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching frame in ${timeoutMs} ms; got ${JSON.stringify(received.slice(-5))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      ws.close();
      await closed;
    },
  };
}

/** Opens a device connection; rejects with the HTTP status if the handshake is refused. */
export function openDevice(url: string, token: string | undefined, protocols?: string[]): Promise<Client> {
  const offered = protocols ?? [DEVICE_SUBPROTOCOL, ...(token ? [`${BEARER_SUBPROTOCOL_PREFIX}${token}`] : [])];
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, offered);
    const client = wrap(ws);
    ws.once('open', () => {
      ws.on('error', () => undefined); // resets after open end in 'close', which tests await
      resolve(client);
    });
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`handshake refused: ${res.statusCode}`), { status: res.statusCode }));
      ws.terminate();
    });
    ws.once('error', (error) => reject(error));
  });
}
