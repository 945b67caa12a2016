/**
 * What API Gateway (HTTP API, payload 2.0) does in front of the functions: match the request to a route
 * of the stack (runtime/control-plane/routes.ts), run the JWT authorizer (signature against the issuer's
 * JWKS, issuer, audience, expiry; 401 otherwise), and build the event the handlers take.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { JwtVerifier } from 'aws-jwt-verify';
import type { JwtPayload } from 'aws-jwt-verify/jwt-model';
import type { HttpEvent } from '../../runtime/control-plane/http';
import { API_ROUTES, CREDENTIAL_ROUTES } from '../../runtime/control-plane/routes';
import type { FunctionName } from '../aws/principals';

export interface MatchedRoute {
  readonly routeKey: string;
  readonly pathParameters: Record<string, string>;
  /** The function the stack integrates the route with (lib/constructs/employee-api.ts). */
  readonly fn: Extract<FunctionName, 'api' | 'credentials'>;
}

const ROUTES = [
  ...Object.values(API_ROUTES).map((key) => compile(key, 'api' as const)),
  ...Object.values(CREDENTIAL_ROUTES).map((key) => compile(key, 'credentials' as const)),
];

function compile(routeKey: string, fn: MatchedRoute['fn']) {
  const [method, template] = routeKey.split(' ');
  const names: string[] = [];
  const pattern = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{(\w+)\\?\}/g, (_, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { routeKey, fn, method, names, regex: new RegExp(`^${pattern}$`) };
}

/** The route a request matches, or undefined (API Gateway answers 404). */
export function matchRoute(method: string, rawPath: string): MatchedRoute | undefined {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const m = route.regex.exec(rawPath);
    if (!m) continue;
    try {
      const pathParameters = Object.fromEntries(route.names.map((name, i) => [name, decodeURIComponent(m[i + 1])]));
      return { routeKey: route.routeKey, pathParameters, fn: route.fn };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export interface JwtAuthorizer {
  /** The verified claims, or undefined (401). */
  verify(authorization: string | undefined): Promise<JwtPayload | undefined>;
}

/** The authorizer of the stack's HTTP API, pointed at the local issuer; its JWKS is given, not fetched. */
export function jwtAuthorizer(issuer: string, audience: string, jwks: { keys: unknown[] }): JwtAuthorizer {
  const verifier = JwtVerifier.create({ issuer, audience, jwksUri: `${issuer}/jwks.json` });
  verifier.cacheJwks(jwks as Parameters<typeof verifier.cacheJwks>[0]);
  return {
    async verify(authorization) {
      // API Gateway takes the header's value, with or without the "Bearer " prefix.
      const token = authorization?.replace(/^Bearer\s+/i, '').trim();
      if (!token) return undefined;
      try {
        return await verifier.verify(token);
      } catch {
        return undefined;
      }
    },
  };
}

/** Claims as the JWT authorizer passes them: every value a string, arrays as `[a b]`. */
export function authorizerClaims(payload: JwtPayload): Record<string, string> {
  return Object.fromEntries(
    Object.entries(payload)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => [
        k,
        Array.isArray(v) ? `[${v.join(' ')}]` : typeof v === 'object' ? JSON.stringify(v) : String(v),
      ]),
  );
}

export interface EventInput {
  readonly req: IncomingMessage;
  readonly url: URL;
  readonly body: Buffer;
  readonly route: MatchedRoute;
  readonly claims: JwtPayload;
  readonly account: string;
  /** Headers the edge adds (the origin-verify header); they replace any viewer header of the same name. */
  readonly extraHeaders: Readonly<Record<string, string>>;
}

export function buildEvent(input: EventInput): HttpEvent {
  const { req, url, body, route } = input;
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    const value = req.rawHeaders[i + 1];
    if (name === 'cookie') cookies.push(...value.split(/;\s*/).filter(Boolean));
    else headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  Object.assign(headers, input.extraHeaders);
  const query: Record<string, string> = {};
  for (const [key, value] of url.searchParams) query[key] = query[key] === undefined ? value : `${query[key]},${value}`;
  const text = body.toString('utf8');
  const isText = body.length === 0 || Buffer.from(text, 'utf8').equals(body);
  const now = Date.now();
  const scopes = typeof input.claims.scope === 'string' ? input.claims.scope.split(' ').filter(Boolean) : [];
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(Object.keys(route.pathParameters).length > 0 ? { pathParameters: route.pathParameters } : {}),
    ...(body.length > 0 ? { body: isText ? text : body.toString('base64') } : {}),
    isBase64Encoded: !isText,
    requestContext: {
      accountId: input.account,
      apiId: 'local',
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: 'local',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: route.routeKey,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
      authorizer: { principalId: '', integrationLatency: 0, jwt: { claims: authorizerClaims(input.claims), scopes } },
    },
  } as HttpEvent;
}
