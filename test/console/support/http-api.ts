/**
 * The real API handlers (createApiHandler, createCredentialsHandler) behind a small HTTP adapter, as API
 * Gateway's HTTP API would call them: the route key and path parameters from the route registry, the
 * bearer verified (HS256 here, standing in for the JWT authorizer) and passed on as claims. DynamoDB is
 * dynalite; ECS and Secrets Manager are faked at the SDK client (no local stand-in exists on main yet).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { jwtVerify, SignJWT } from 'jose';
import { createApiHandler, type ApiDeps } from '../../../runtime/control-plane/api';
import { Authenticator, InvalidToken, type TokenVerifier } from '../../../runtime/control-plane/auth';
import { createCredentialsHandler } from '../../../runtime/control-plane/credentials';
import type { HttpEvent, HttpResult } from '../../../runtime/control-plane/http';
import { API_ROUTES, CREDENTIAL_ROUTES } from '../../../runtime/control-plane/routes';
import { startDynamo, type TestDynamo } from '../../control-plane/support/dynamo';
import { Clock, fakeEcs, lifecycleDeps, recordDeps, ROSTER, silentLogger } from '../../control-plane/support/fixtures';
import { TEST_CHAIN } from '../../support/chain-key';

const SECRET = new TextEncoder().encode('test-only-signing-key-for-the-console-harness');

/** The handlers verify the bearer token themselves: here, the harness's own HS256 issuer. */
const HARNESS_VERIFIER: TokenVerifier = {
  async verify(token) {
    try {
      return (await jwtVerify(token, SECRET, { issuer: TEST_ISSUER })).payload as Awaited<ReturnType<TokenVerifier['verify']>>;
    } catch {
      throw new InvalidToken('the harness issuer did not sign this token');
    }
  },
};
const HARNESS_AUTH = new Authenticator(HARNESS_VERIFIER, ROSTER);
export const TEST_ISSUER = 'https://issuer.test';

/** A token as the identity provider would issue it (username claim = roster user id, like Cognito's access token). */
export async function issueToken(user: string, ttlSeconds = 3600): Promise<string> {
  return new SignJWT({ username: user, token_use: 'access', client_id: 'cubicle-console' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(`sub-${user}`)
    .setIssuer(TEST_ISSUER)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(SECRET);
}

interface Route {
  readonly routeKey: string;
  readonly method: string;
  readonly pattern: RegExp;
  readonly names: string[];
}

const ROUTES: Route[] = [...Object.values(API_ROUTES), ...Object.values(CREDENTIAL_ROUTES)].map((routeKey) => {
  const [method, template] = routeKey.split(' ');
  const names: string[] = [];
  const pattern = new RegExp(`^${template.replace(/\{(\w+)\}/g, (_, name: string) => (names.push(name), '([^/]+)'))}$`);
  return { routeKey, method, pattern, names };
});

export interface TestApi {
  readonly dynamo: TestDynamo;
  readonly deps: ApiDeps;
  readonly ecs: ReturnType<typeof fakeEcs>;
  /** Secret names and values the credential writer stored. */
  readonly secrets: Array<{ name: string; value: string }>;
  /** Every routed call: route key and status. */
  readonly calls: Array<{ routeKey: string; status: number }>;
  /** Answers /v1/... requests; false when the path is not an API route. */
  handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<boolean>;
  /** Claims of a valid bearer, or undefined. */
  verify(token: string | undefined): Promise<Record<string, string> | undefined>;
  close(): Promise<void>;
}

/** Called after each routed call (the harness starts the stand-in agent on a stored message). */
export type AfterCall = (call: { routeKey: string; user: string; params: Record<string, string>; body: string; result: HttpResult }) => void;

export async function startTestApi(after?: AfterCall): Promise<TestApi> {
  const dynamo = await startDynamo();
  const ecs = fakeEcs();
  const logger = silentLogger();
  const clock = { now: () => Date.now() } as Clock; // real time: the browser counts down expiries
  const deps: ApiDeps = { auth: HARNESS_AUTH, logger, lifecycle: lifecycleDeps(dynamo, ecs.ecs, clock, logger), records: recordDeps(dynamo, clock) };
  const api = createApiHandler(deps);
  const secretsClient = new SecretsManagerClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const secrets: Array<{ name: string; value: string }> = [];
  mockClient(secretsClient)
    .on(PutSecretValueCommand)
    .callsFake(async (input: { SecretId: string; SecretString: string }) => {
      secrets.push({ name: input.SecretId, value: input.SecretString });
      return {};
    });
  const credentials = createCredentialsHandler({ auth: HARNESS_AUTH, secrets: secretsClient, deployment: 'acme', logger, events: { doc: dynamo.doc, table: dynamo.tables.events, chain: TEST_CHAIN, now: Date.now } });
  const calls: Array<{ routeKey: string; status: number }> = [];
  let requests = 0;

  const verify = async (token: string | undefined) => {
    if (!token) return undefined;
    try {
      const { payload } = await jwtVerify(token, SECRET, { issuer: TEST_ISSUER });
      return Object.fromEntries(Object.entries(payload).map(([k, v]) => [k, String(v)]));
    } catch {
      return undefined;
    }
  };

  return {
    dynamo,
    deps,
    ecs,
    secrets,
    calls,
    verify,
    async handle(req, res, body) {
      const url = new URL(req.url ?? '/', 'http://x');
      const matches = ROUTES.filter((r) => r.pattern.test(url.pathname));
      if (matches.length === 0) return false;
      const route = matches.find((r) => r.method === req.method);
      const send = (result: HttpResult) => {
        res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
        res.end(result.body ?? '');
      };
      if (!route) {
        send({ statusCode: 404, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'Not Found' }) });
        return true;
      }
      // API Gateway's JWT authorizer: no valid bearer, no call.
      const claims = await verify(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]);
      if (!claims) {
        send({ statusCode: 401, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'Unauthorized' }) });
        calls.push({ routeKey: route.routeKey, status: 401 });
        return true;
      }
      const values = route.pattern.exec(url.pathname)!.slice(1).map(decodeURIComponent);
      const query = Object.fromEntries(url.searchParams);
      const event = {
        version: '2.0',
        routeKey: route.routeKey,
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        queryStringParameters: Object.keys(query).length > 0 ? query : undefined,
        pathParameters: route.names.length > 0 ? Object.fromEntries(route.names.map((n, i) => [n, values[i]])) : undefined,
        body: body === '' ? undefined : body,
        isBase64Encoded: false,
        requestContext: { requestId: `req-${++requests}`, routeKey: route.routeKey, authorizer: { jwt: { claims, scopes: [] } } },
      } as unknown as HttpEvent;
      const handler = Object.values(CREDENTIAL_ROUTES).includes(route.routeKey as never) ? credentials : api;
      const result = await handler(event);
      calls.push({ routeKey: route.routeKey, status: result.statusCode ?? 200 });
      send(result);
      after?.({ routeKey: route.routeKey, user: claims.username, params: (event.pathParameters ?? {}) as Record<string, string>, body, result });
      return true;
    },
    close: () => dynamo.close(),
  };
}
