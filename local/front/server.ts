/**
 * The one user-facing port of local mode, on 127.0.0.1 only. It plays the edge (CloudFront: the
 * origin-verify header on every API request, the security response headers, the console at `/`, a JSON
 * 404 for any other path outside /v1/),
 * API Gateway (routes, the JWT authorizer, the payload 2.0 event) and the local issuer (`/local/*`).
 *
 * A request whose Host header is not this loopback address is refused (DNS rebinding: a web page must
 * not reach local mode under a name it controls), and so is any peer that is not loopback.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HttpEvent, HttpResult } from '../../runtime/control-plane/http';
import { ORIGIN_VERIFY_HEADER } from '../../runtime/control-plane/origin-verify';
import { readBody } from '../aws/json-server';
import { handleIdentity, type LocalRequest } from '../identity/routes';
import type { LocalIssuer } from '../identity/issuer';
import type { ConsoleSite } from './console-site';
import { buildEvent, matchRoute, type JwtAuthorizer, type MatchedRoute } from './api-gateway';

/** API Gateway's payload limit. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * The edge's response headers (lib/constructs/edge-distribution.ts SECURITY_HEADERS, compared by
 * test/local/front.test.ts), except HSTS, which browsers ignore over plain HTTP.
 */
export const EDGE_RESPONSE_HEADERS = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'permissions-policy':
    'accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=(), interest-cohort=()',
} as const;

/** The edge's answer outside /v1/ (edge-distribution.ts NOT_FOUND_FUNCTION_CODE). */
const EDGE_NOT_FOUND = '{"message":"Not found. The Cubicle API is under /v1/."}';

/** Handles a WebSocket upgrade on its path (the relay, `/v1/relay`). */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface FrontOptions {
  readonly issuer: LocalIssuer;
  readonly authorizer: JwtAuthorizer;
  readonly account: string;
  /** Invokes the function a route is integrated with. */
  readonly invoke: (fn: MatchedRoute['fn'], event: HttpEvent) => Promise<HttpResult>;
  /** The value CloudFront sends in the origin-verify header. */
  readonly originHeaderValue: () => string;
  /** The employee console at `/` (its page, config.json and assets). */
  readonly console?: ConsoleSite;
  /** WebSocket upgrades at their paths (the relay mounts `/v1/relay` here). */
  readonly upgrades?: Readonly<Record<string, UpgradeHandler>>;
  readonly log: (message: string, fields?: Record<string, unknown>) => void;
}

/** Serves the front on a server already listening (its port is part of the issuer's URL). */
export function attachFront(server: Server, options: FrontOptions): void {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    void handle(server, options, req, res).catch((error: Error) => {
      options.log('front request failed', { error: error.message });
      if (!res.headersSent) sendJson(res, 500, { message: 'Internal Server Error' });
      else res.destroy();
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const handler = loopbackOrigin(server, req)
      ? options.upgrades?.[new URL(req.url ?? '/', 'http://x').pathname]
      : undefined;
    if (handler) return handler(req, socket, head);
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
}

/** `http://127.0.0.1:<port>` when the request is from loopback and names this server; else undefined. */
function loopbackOrigin(server: Server, req: IncomingMessage): string | undefined {
  const peer = req.socket.remoteAddress ?? '';
  if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(peer)) return undefined;
  const port = (server.address() as AddressInfo).port;
  const host = String(req.headers.host ?? '').toLowerCase();
  if (![`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(host)) return undefined;
  return `http://127.0.0.1:${port}`;
}

async function handle(server: Server, options: FrontOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const origin = loopbackOrigin(server, req);
  if (!origin)
    return sendJson(res, 403, { message: 'Cubicle local mode answers only http://127.0.0.1 on this machine.' });
  let body: Buffer;
  try {
    body = await readBody(req, MAX_BODY_BYTES);
  } catch {
    return sendJson(res, 413, { message: 'Request Entity Too Large' });
  }
  const url = new URL(req.url ?? '/', origin);
  const local: LocalRequest = { req, res, url, body, origin };
  if (await handleIdentity(options.issuer, local)) return;

  if (!url.pathname.startsWith('/v1/')) {
    if (options.console?.serve(local)) return;
    return sendRaw(res, 404, EDGE_NOT_FOUND, EDGE_RESPONSE_HEADERS);
  }
  const route = matchRoute(req.method ?? 'GET', url.pathname);
  if (!route) return sendJson(res, 404, { message: 'Not Found' }, EDGE_RESPONSE_HEADERS);
  const claims = await options.authorizer.verify(req.headers.authorization);
  if (!claims)
    return sendJson(res, 401, { message: 'Unauthorized' }, { ...EDGE_RESPONSE_HEADERS, 'www-authenticate': 'Bearer' });

  // CloudFront's origin custom header replaces a viewer header of the same name.
  const event = buildEvent({
    req,
    url,
    body,
    route,
    claims,
    account: options.account,
    extraHeaders: { [ORIGIN_VERIFY_HEADER]: options.originHeaderValue() },
  });
  let result: HttpResult;
  try {
    result = await options.invoke(route.fn, event);
  } catch (error) {
    options.log('function invocation failed', { fn: route.fn, route: route.routeKey, error: (error as Error).message });
    const timedOut = /timed out/i.test((error as Error).message);
    return sendJson(
      res,
      timedOut ? 503 : 500,
      { message: timedOut ? 'Service Unavailable' : 'Internal Server Error' },
      EDGE_RESPONSE_HEADERS,
    );
  }
  writeResult(res, result);
}

function writeResult(res: ServerResponse, result: HttpResult): void {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
  if (result.cookies?.length) headers['set-cookie'] = result.cookies;
  Object.assign(headers, EDGE_RESPONSE_HEADERS);
  const body =
    result.body === undefined ? Buffer.alloc(0) : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  headers['content-length'] = String(body.length);
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(body);
}

function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  sendRaw(res, status, JSON.stringify(value), headers);
}

function sendRaw(res: ServerResponse, status: number, text: string, headers: Readonly<Record<string, string>>): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}
