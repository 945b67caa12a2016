/**
 * The front port: the local issuer (script tokens, the code + PKCE flow a browser follows), what API
 * Gateway does (routes, the JWT authorizer, the payload 2.0 event) and what the edge does (the origin
 * header, response headers, the loopback-only Host check).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { JwtVerifier } from 'aws-jwt-verify';
import { importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rosterDirectory } from '../../lib/constructs/control-plane-roster';
import { SECURITY_HEADERS } from '../../lib/constructs/edge-distribution';
import type { HttpEvent, HttpResult } from '../../runtime/control-plane/http';
import { ORIGIN_VERIFY_HEADER } from '../../runtime/control-plane/origin-verify';
import { Roster } from '../../runtime/control-plane/roster';
import { closeServer, listenLoopback } from '../../local/aws/json-server';
import { authorizerClaims, jwtAuthorizer } from '../../local/front/api-gateway';
import { attachFront, EDGE_RESPONSE_HEADERS } from '../../local/front/server';
import { LOCAL_CLIENT_ID, LocalIssuer } from '../../local/identity/issuer';
import { exampleConfig } from '../support/example-config';
import { call } from './support';

const config = exampleConfig();
const roster = rosterDirectory(config);
let dir: string;
let server: Server;
let base: string;
let issuer: LocalIssuer;
const invocations: { fn: string; event: HttpEvent }[] = [];
let answer: () => Promise<HttpResult>;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cubicle-front-'));
  server = createServer();
  base = await listenLoopback(server);
  issuer = await LocalIssuer.open(dir, `${base}/local`, roster);
  attachFront(server, {
    issuer,
    authorizer: jwtAuthorizer(issuer.issuer, LOCAL_CLIENT_ID, issuer.jwks()),
    account: config.account,
    invoke: async (fn, event) => {
      invocations.push({ fn, event });
      return answer();
    },
    originHeaderValue: () => 'the-origin-secret',
    upgrades: {
      '/v1/relay': (_req, socket) =>
        socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
    },
    log: () => undefined,
  });
});
afterAll(async () => {
  await closeServer(server);
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  invocations.length = 0;
  answer = async () => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' });
});

async function token(user: string): Promise<string> {
  return (await call(base, 'POST', '/local/token', undefined, { user })).body.token;
}

async function form(route: string, fields: Record<string, string>) {
  return fetch(`${base}${route}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
}

/** A raw request with a Host header of our choosing (fetch does not allow setting it). */
function withHost(host: string, route: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = request({ host: url.hostname, port: url.port, path: route, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('local issuer', () => {
  it('signs short-lived RS256 tokens for roster users that the same roster code identifies', async () => {
    const jwt = await token('alice');
    const verifier = JwtVerifier.create({
      issuer: issuer.issuer,
      audience: LOCAL_CLIENT_ID,
      jwksUri: `${issuer.issuer}/jwks.json`,
    });
    verifier.cacheJwks((await call(base, 'GET', '/local/jwks.json')).body);
    const payload = await verifier.verify(jwt);
    expect(payload).toMatchObject({
      iss: `${base}/local`,
      sub: 'alice',
      aud: LOCAL_CLIENT_ID,
      username: 'alice',
      token_use: 'access',
      client_id: LOCAL_CLIENT_ID,
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(new Roster(roster).identify(authorizerClaims(payload))?.id).toBe('alice');
    // With an external-OIDC roster (users matched by a verified email claim) the same token works too.
    const oidc = await LocalIssuer.open(dir, `${base}/local`, {
      ...roster,
      identity: { kind: 'oidc', claim: 'email' },
    });
    const oidcPayload = await verifier.verify(await oidc.accessToken(oidc.user('bruno')!));
    expect(
      new Roster({ ...roster, identity: { kind: 'oidc', claim: 'email' } }).identify(authorizerClaims(oidcPayload))?.id,
    ).toBe('bruno');
    // The signing key is kept: a restart serves the same JWKS.
    expect(oidc.jwks()).toEqual(issuer.jwks());

    expect((await call(base, 'POST', '/local/token', undefined, { user: 'mallory' })).status).toBe(400);
    const plain = await fetch(`${base}/local/token`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{"user":"alice"}',
    });
    expect(plain.status).toBe(415);
  });

  it('runs the authorization-code flow with PKCE a browser follows, one use per code', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const redirect = 'http://127.0.0.1:5173/callback';
    const params = {
      response_type: 'code',
      client_id: LOCAL_CLIENT_ID,
      redirect_uri: redirect,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: '"><script>x</script>',
      nonce: 'n-1',
    };
    const page = await fetch(`${base}/local/authorize?${new URLSearchParams(params)}`);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("form-action 'self' http://127.0.0.1:5173");
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    for (const user of config.users) expect(html).toContain(`>Sign in as ${user.id} (${user.email})</button>`);
    expect(html).not.toContain('<script>');
    expect(html).toContain('value="&#34;&#62;&#60;script&#62;x&#60;/script&#62;"');

    const chosen = await form('/local/authorize', { ...params, user: 'alice' });
    expect(chosen.status).toBe(303);
    const location = new URL(chosen.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(redirect);
    expect(location.searchParams.get('state')).toBe(params.state);
    const code = location.searchParams.get('code')!;

    const exchange = (fields: Record<string, string>) =>
      form('/local/token', {
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirect,
        client_id: LOCAL_CLIENT_ID,
        code_verifier: verifier,
        ...fields,
      });
    expect(await (await exchange({ code_verifier: randomBytes(32).toString('base64url') })).json()).toMatchObject({
      error: 'invalid_grant',
    });
    // The failed attempt used the code up.
    expect(await (await exchange({})).json()).toMatchObject({ error: 'invalid_grant' });

    const second = new URL(
      (await form('/local/authorize', { ...params, user: 'alice' })).headers.get('location')!,
    ).searchParams.get('code')!;
    const tokens: any = await (
      await form('/local/token', {
        grant_type: 'authorization_code',
        code: second,
        redirect_uri: redirect,
        client_id: LOCAL_CLIENT_ID,
        code_verifier: verifier,
      })
    ).json();
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect((await call(base, 'GET', '/v1/agents', tokens.access_token)).status).toBe(200);
    const idToken = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url').toString());
    expect(idToken).toMatchObject({ sub: 'alice', nonce: 'n-1', token_use: 'id' });

    // Silent refresh: new tokens for the same client only, none after revocation (RFC 7009).
    expect(tokens.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const refresh = (fields: Record<string, string>) =>
      form('/local/token', {
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
        client_id: LOCAL_CLIENT_ID,
        ...fields,
      });
    const refreshed: any = await (await refresh({})).json();
    expect(refreshed).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(refreshed.refresh_token).toBeUndefined(); // kept by the client, as with Cognito
    expect((await call(base, 'GET', '/v1/agents', refreshed.access_token)).status).toBe(200);
    expect(await (await refresh({ client_id: 'someone-else' })).json()).toMatchObject({ error: 'invalid_grant' });
    expect(await (await refresh({ refresh_token: randomBytes(32).toString('base64url') })).json()).toMatchObject({
      error: 'invalid_grant',
    });
    expect((await form('/local/revoke', { token: tokens.refresh_token, client_id: 'someone-else' })).status).toBe(200);
    expect((await refresh({})).status).toBe(200); // another client cannot revoke it
    expect((await form('/local/revoke', { token: tokens.refresh_token, client_id: LOCAL_CLIENT_ID })).status).toBe(200);
    expect(await (await refresh({})).json()).toMatchObject({
      error: 'invalid_grant',
      error_description: 'The refresh token is unknown, revoked or expired.',
    });
    expect(await (await form('/local/token', { grant_type: 'password' })).json()).toMatchObject({
      error: 'unsupported_grant_type',
    });
  });

  it('never redirects outside this machine and requires PKCE', async () => {
    const challenge = createHash('sha256').update('x'.repeat(43)).digest('base64url');
    const base_ = {
      response_type: 'code',
      client_id: LOCAL_CLIENT_ID,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    };
    const away = await fetch(
      `${base}/local/authorize?${new URLSearchParams({ ...base_, redirect_uri: 'https://evil.example/cb' })}`,
      { redirect: 'manual' },
    );
    expect(away.status).toBe(400);
    expect(away.headers.get('location')).toBeNull();
    const otherClient = await fetch(
      `${base}/local/authorize?${new URLSearchParams({ ...base_, client_id: 'other', redirect_uri: 'http://127.0.0.1:1/cb' })}`,
      { redirect: 'manual' },
    );
    expect(otherClient.status).toBe(400);
    const noPkce = await fetch(
      `${base}/local/authorize?${new URLSearchParams({ response_type: 'code', client_id: LOCAL_CLIENT_ID, redirect_uri: 'http://127.0.0.1:1/cb', state: 's' })}`,
      { redirect: 'manual' },
    );
    expect(noPkce.status).toBe(303);
    expect(Object.fromEntries(new URL(noPkce.headers.get('location')!).searchParams)).toMatchObject({
      error: 'invalid_request',
      state: 's',
    });
  });

  it('lists the roster on the plain sign-in page and shows the chosen user a token', async () => {
    const page = await (await fetch(`${base}/local/sign-in`)).text();
    expect(page).toContain('<ul aria-label="Roster users">');
    const signed = await form('/local/sign-in', { user: 'chen' });
    const html = await signed.text();
    const jwt = /<pre aria-label="Access token">([^<]+)<\/pre>/.exec(html)![1];
    expect(JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()).sub).toBe('chen');
  });
});

describe('API Gateway and edge stand-in', () => {
  it("invokes the route's function with the payload 2.0 event, verified claims as strings and the origin header", async () => {
    const jwt = await token('alice');
    const reply = await fetch(`${base}/v1/agents/sales/events?after=3&after=4`, {
      headers: { authorization: `Bearer ${jwt}`, [ORIGIN_VERIFY_HEADER]: 'forged' },
    });
    expect(reply.status).toBe(200);
    expect(await reply.json()).toEqual({ ok: true });
    expect(invocations).toHaveLength(1);
    const { fn, event } = invocations[0];
    expect(fn).toBe('api');
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'GET /v1/agents/{agentId}/events',
      rawPath: '/v1/agents/sales/events',
      rawQueryString: 'after=3&after=4',
      queryStringParameters: { after: '3,4' },
      pathParameters: { agentId: 'sales' },
      requestContext: { http: { method: 'GET', sourceIp: '127.0.0.1' }, stage: '$default' },
    });
    // CloudFront's origin header replaces whatever the viewer sent under that name.
    expect(event.headers[ORIGIN_VERIFY_HEADER]).toBe('the-origin-secret');
    const claims = event.requestContext.authorizer.jwt.claims;
    expect(claims).toMatchObject({ sub: 'alice', username: 'alice', email_verified: 'true' });
    expect(typeof claims.exp).toBe('string');
    for (const [name, value] of Object.entries(EDGE_RESPONSE_HEADERS)) expect(reply.headers.get(name)).toBe(value);

    await call(base, 'PUT', '/v1/credentials/openai', jwt, { value: 'k' });
    expect(invocations[1]).toMatchObject({
      fn: 'credentials',
      event: {
        routeKey: 'PUT /v1/credentials/{provider}',
        pathParameters: { provider: 'openai' },
        body: '{"value":"k"}',
      },
    });
  });

  it('answers 401 for a missing, forged, expired or foreign-audience token, before any function runs', async () => {
    expect((await call(base, 'GET', '/v1/agents')).status).toBe(401);
    const privateJwk = JSON.parse(readFileSync(path.join(dir, 'signing-key.json'), 'utf8'));
    const key = await importJWK(privateJwk, 'RS256');
    const sign = (claims: Record<string, unknown>, exp: number | string, audience = LOCAL_CLIENT_ID) =>
      new SignJWT({ username: 'alice', ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: privateJwk.kid })
        .setIssuer(issuer.issuer)
        .setAudience(audience)
        .setSubject('alice')
        .setIssuedAt()
        .setExpirationTime(exp)
        .sign(key);
    expect((await call(base, 'GET', '/v1/agents', await sign({}, '1h'))).status).toBe(200);
    expect((await call(base, 'GET', '/v1/agents', await sign({}, Math.floor(Date.now() / 1000) - 60))).status).toBe(
      401,
    );
    expect((await call(base, 'GET', '/v1/agents', await sign({}, '1h', 'someone-else'))).status).toBe(401);
    const stranger = (await import('jose')).generateKeyPair('RS256');
    const foreign = await new SignJWT({ username: 'alice' })
      .setProtectedHeader({ alg: 'RS256', kid: privateJwk.kid })
      .setIssuer(issuer.issuer)
      .setAudience(LOCAL_CLIENT_ID)
      .setExpirationTime('1h')
      .sign((await stranger).privateKey);
    expect((await call(base, 'GET', '/v1/agents', foreign)).status).toBe(401);
    // Only the valid token reached a function.
    expect(invocations).toHaveLength(1);
  });

  it('answers like the edge and API Gateway outside the routes, and maps a function failure to 500', async () => {
    const outside = await fetch(`${base}/wp-admin`);
    expect(outside.status).toBe(404);
    expect(await outside.json()).toEqual({ message: 'Not found. The Cubicle API is under /v1/.' });
    expect(await call(base, 'GET', '/v1/nothing-here', await token('alice'))).toMatchObject({
      status: 404,
      body: { message: 'Not Found' },
    });
    answer = async () => {
      throw new Error('boom');
    };
    expect(await call(base, 'GET', '/v1/agents', await token('alice'))).toMatchObject({
      status: 500,
      body: { message: 'Internal Server Error' },
    });
  });

  it("sends the edge's security headers (all but HSTS, which plain HTTP cannot carry)", () => {
    const { strictTransportSecurity: _hsts, ...rest } = SECURITY_HEADERS;
    expect(Object.values(EDGE_RESPONSE_HEADERS).sort()).toEqual(Object.values(rest).sort());
  });

  it('refuses requests that name another host (DNS rebinding) and upgrades only where a handler is mounted', async () => {
    const port = new URL(base).port;
    expect(await withHost(`127.0.0.1:${port}`, '/local/jwks.json')).toBe(200);
    expect(await withHost(`localhost:${port}`, '/local/jwks.json')).toBe(200);
    expect(await withHost(`evil.example:${port}`, '/local/jwks.json')).toBe(403);
    expect(await withHost('127.0.0.1', '/local/jwks.json')).toBe(403);

    const upgrade = (route: string) =>
      new Promise<string>((resolve, reject) => {
        const url = new URL(base);
        const req = request({
          host: url.hostname,
          port: url.port,
          path: route,
          headers: { connection: 'Upgrade', upgrade: 'websocket' },
        });
        req.on('upgrade', (res, socket) => {
          socket.destroy();
          resolve(String(res.statusCode));
        });
        req.on('response', (res) => resolve(String(res.statusCode)));
        req.on('error', reject);
        req.end();
      });
    expect(await upgrade('/v1/relay')).toBe('101');
    expect(await upgrade('/v1/other')).toBe('404');
  });
});
