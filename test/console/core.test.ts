/** The console's and CLI's shared core: PKCE, the OAuth requests, settings, credentials, plain-language events. */
import { describe, expect, it } from 'vitest';
import {
  cognitoSettings,
  consoleContentSecurityPolicy,
  connectOriginsOf,
  oidcSettings,
  parseSettings,
  relayUrl,
  type ConsoleSettings,
} from '../../console/settings';
import {
  ApiClient,
  ApiError,
  SEND_ATTEMPTS,
  SEND_RETRY_MS,
  describeError,
  routePath,
  type AgentView,
} from '../../console/src/core/api';
import { credentialPayload, credentialTargets, whoUsesIt } from '../../console/src/core/credentials';
import { describeEvent, relativeTime, statusText, timeLeft } from '../../console/src/core/describe';
import {
  authorizeUrl,
  endpointsOf,
  exchangeCode,
  jwtClaims,
  refreshTokens,
  signOutUrl,
  tokensFrom,
} from '../../console/src/core/oauth';
import { base64url, challengeOf, createVerifier, startPkce } from '../../console/src/core/pkce';
import { API_ROUTES, CREDENTIAL_ROUTES } from '../../runtime/control-plane/routes';

const fakeJwt = (claims: Record<string, unknown>) =>
  `h.${base64url(new TextEncoder().encode(JSON.stringify(claims)))}.s`;

describe('PKCE', () => {
  it('computes the RFC 7636 appendix B challenge', async () => {
    expect(await challengeOf('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('makes fresh 43-character verifiers and states, never twice the same', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const v = createVerifier();
      expect(v).toMatch(/^[A-Za-z0-9_-]{43}$/);
      seen.add(v);
    }
    expect(seen.size).toBe(200);
    const a = await startPkce();
    const b = await startPkce();
    expect(a.state).not.toBe(b.state);
    expect(a.challenge).toBe(await challengeOf(a.verifier));
  });

  it("refuses a verifier outside the RFC's alphabet or length", async () => {
    await expect(challengeOf('short')).rejects.toThrow(/43 to 128/);
    await expect(challengeOf('a'.repeat(42) + '!')).rejects.toThrow(/43 to 128/);
  });
});

describe('OAuth requests', () => {
  const cognito = cognitoSettings({
    domainUrl: 'https://acme-1.auth.eu-west-1.amazoncognito.com',
    issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/pool',
    clientId: 'web',
    cliClientId: 'cli',
  });

  it('builds the authorize URL with S256 and the exact redirect', async () => {
    const endpoints = await endpointsOf(cognito);
    const url = new URL(
      authorizeUrl(endpoints, {
        clientId: 'web',
        redirectUri: 'https://d1.cloudfront.net/',
        scopes: ['openid', 'email'],
        state: 'st',
        challenge: 'ch',
      }),
    );
    expect(url.origin + url.pathname).toBe('https://acme-1.auth.eu-west-1.amazoncognito.com/oauth2/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'web',
      redirect_uri: 'https://d1.cloudfront.net/',
      scope: 'openid email',
      state: 'st',
      code_challenge: 'ch',
      code_challenge_method: 'S256',
    });
  });

  it("reads an OIDC issuer's endpoints from its discovery document", async () => {
    const calls: string[] = [];
    const fetcher = (async (url: string) => {
      calls.push(url);
      return new Response(
        JSON.stringify({
          authorization_endpoint: 'https://idp.example/auth',
          token_endpoint: 'https://idp.example/token',
          end_session_endpoint: 'https://idp.example/end',
        }),
      );
    }) as typeof fetch;
    const endpoints = await endpointsOf(oidcSettings({ issuer: 'https://idp.example/', clientId: 'x' }), fetcher);
    expect(calls).toEqual(['https://idp.example/.well-known/openid-configuration']);
    expect(endpoints).toEqual({
      authorization: 'https://idp.example/auth',
      token: 'https://idp.example/token',
      endSession: 'https://idp.example/end',
      revocation: undefined,
    });
  });

  it('exchanges the code with the verifier as a form post, and keeps the refresh token across refreshes', async () => {
    const bodies: Array<Record<string, string>> = [];
    const access = fakeJwt({ exp: 2_000_000_000, username: 'alice' });
    const fetcher = (async (_url: string, init: RequestInit) => {
      expect((init.headers as Record<string, string>)['content-type']).toBe('application/x-www-form-urlencoded');
      bodies.push(Object.fromEntries(new URLSearchParams(init.body as string)));
      return new Response(
        JSON.stringify({
          access_token: access,
          id_token: 'id',
          refresh_token: bodies.length === 1 ? 'r1' : undefined,
          expires_in: 3600,
        }),
      );
    }) as unknown as typeof fetch;
    const endpoints = await endpointsOf(cognito);
    const tokens = await exchangeCode(
      endpoints,
      cognito,
      { clientId: 'web', code: 'c0de', verifier: 'v', redirectUri: 'https://d1/' },
      fetcher,
    );
    expect(bodies[0]).toEqual({
      grant_type: 'authorization_code',
      client_id: 'web',
      code: 'c0de',
      code_verifier: 'v',
      redirect_uri: 'https://d1/',
    });
    expect(tokens).toEqual({ bearer: access, idToken: 'id', refreshToken: 'r1', expiresAt: 2_000_000_000_000 });
    const refreshed = await refreshTokens(endpoints, cognito, { clientId: 'web', refreshToken: 'r1' }, fetcher);
    expect(bodies[1]).toEqual({ grant_type: 'refresh_token', client_id: 'web', refresh_token: 'r1' });
    expect(refreshed.refreshToken).toBe('r1');
  });

  it('a refused exchange says why, without the code', async () => {
    const fetcher = (async () =>
      new Response(JSON.stringify({ error: 'invalid_grant' }), { status: 400 })) as unknown as typeof fetch;
    await expect(
      exchangeCode(
        await endpointsOf(cognito),
        cognito,
        { clientId: 'web', code: 'secret-code', verifier: 'v', redirectUri: 'r' },
        fetcher,
      ),
    ).rejects.toThrow(/^The sign-in service refused: invalid_grant\.$/);
  });

  it('takes the bearer the API expects: the access token for Cognito, the ID token for an OIDC issuer, local mode\'s "token"', () => {
    expect(tokensFrom({ access_token: 'a', id_token: 'i' }, 'access_token', 0).bearer).toBe('a');
    expect(tokensFrom({ access_token: 'a', id_token: 'i' }, 'id_token', 0).bearer).toBe('i');
    const local = fakeJwt({ exp: 100 });
    expect(tokensFrom({ token: local }, 'access_token', 0)).toEqual({
      bearer: local,
      idToken: undefined,
      refreshToken: undefined,
      expiresAt: 100_000,
    });
    expect(() => tokensFrom({}, 'access_token', 0)).toThrow(/no token/);
    expect(jwtClaims('not a jwt')).toEqual({});
  });

  it("signs out through Cognito's /logout with client_id and logout_uri, or the OIDC end-session endpoint", async () => {
    const url = new URL(signOutUrl(await endpointsOf(cognito), cognito, 'https://d1/')!);
    expect(url.pathname).toBe('/logout');
    expect(Object.fromEntries(url.searchParams)).toEqual({ client_id: 'web', logout_uri: 'https://d1/' });
    const oidc = oidcSettings({ issuer: 'https://idp.example', clientId: 'x' });
    const end = new URL(
      signOutUrl(
        { authorization: 'a', token: 't', endSession: 'https://idp.example/end' },
        oidc,
        'https://d1/',
        'idt',
      )!,
    );
    expect(Object.fromEntries(end.searchParams)).toEqual({
      client_id: 'x',
      post_logout_redirect_uri: 'https://d1/',
      id_token_hint: 'idt',
    });
    expect(signOutUrl({ authorization: 'a', token: 't' }, oidc, 'https://d1/')).toBeUndefined();
  });
});

describe('settings and the Content-Security-Policy', () => {
  const good: ConsoleSettings = {
    version: 1,
    apiUrl: '',
    relayUrl: '',
    auth: cognitoSettings({
      domainUrl: 'https://acme-1.auth.eu-west-1.amazoncognito.com',
      issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/pool',
      clientId: 'web',
      cliClientId: 'cli',
    }),
  };

  it('accepts a good config.json and names the field of a bad one', () => {
    expect(parseSettings(JSON.parse(JSON.stringify(good)))).toEqual(good);
    const bad =
      (patch: Record<string, unknown>, auth: Record<string, unknown> = {}) =>
      () =>
        parseSettings({ ...good, ...patch, auth: { ...good.auth, ...auth } });
    expect(bad({ version: 2 })).toThrow('config.json: version must be 1');
    expect(bad({ apiUrl: 'http://api.example' })).toThrow('config.json: apiUrl must be an absolute URL or empty');
    expect(bad({ relayUrl: 'ws://relay.example/v1/relay' })).toThrow(
      'config.json: relayUrl must be an absolute URL or empty',
    );
    expect(bad({}, { tokenEndpoint: 'javascript:alert(1)' })).toThrow(
      'config.json: auth.tokenEndpoint must be an https URL',
    );
    expect(bad({}, { clientId: '' })).toThrow('config.json: auth.clientId must be a non-empty string');
    expect(bad({}, { bearer: 'refresh_token' })).toThrow('auth.bearer');
    expect(bad({}, { issuer: undefined, authorizationEndpoint: undefined })).toThrow('auth needs an issuer');
    expect(() => parseSettings('x')).toThrow('config.json: is not a JSON object');
    // Loopback http is local mode's.
    expect(
      parseSettings({ ...good, apiUrl: 'http://127.0.0.1:8080', relayUrl: 'ws://127.0.0.1:8080/v1/relay' }).apiUrl,
    ).toBe('http://127.0.0.1:8080');
  });

  it('derives the relay URL from the API origin (wss for https, ws for loopback http)', () => {
    expect(relayUrl(good, 'https://d1.cloudfront.net')).toBe('wss://d1.cloudfront.net/v1/relay');
    expect(relayUrl(good, 'http://127.0.0.1:4000')).toBe('ws://127.0.0.1:4000/v1/relay');
    expect(relayUrl({ ...good, relayUrl: 'wss://r.example/v1/relay' }, 'https://x')).toBe('wss://r.example/v1/relay');
  });

  it('is strict: self only, no inline or eval, no framing, trusted types; connect-src adds only the identity origins', () => {
    const csp = consoleContentSecurityPolicy(connectOriginsOf(good));
    expect(csp).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
        "connect-src 'self' https://acme-1.auth.eu-west-1.amazoncognito.com https://cognito-idp.eu-west-1.amazonaws.com; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'",
    );
    expect(csp).not.toMatch(/unsafe|\*/);
    expect(consoleContentSecurityPolicy()).toContain("connect-src 'self';");
  });
});

describe('the API client', () => {
  it('builds every path from the route registry, escaping values', () => {
    expect(routePath(API_ROUTES.listEvents, { agentId: 'sales' })).toEqual(['GET', '/v1/agents/sales/events']);
    expect(routePath(API_ROUTES.getAgent, { agentId: '../alice' })).toEqual(['GET', '/v1/agents/..%2Falice']);
    expect(routePath(CREDENTIAL_ROUTES.connection, { connection: 'bank-feed' })).toEqual([
      'PUT',
      '/v1/connections/bank-feed/credential',
    ]);
    expect(() => routePath(API_ROUTES.wake)).toThrow(/needs agentId/);
  });

  it("sends the bearer, and turns 4xx/5xx into errors with the API's message and request id", async () => {
    const seen: Array<[string, RequestInit]> = [];
    const answers = [
      new Response(JSON.stringify({ message: 'Agent not found', requestId: 'r-404' }), { status: 404 }),
      new Response(
        JSON.stringify({
          message: 'Something went wrong on our side. Quote this request id to your platform team.',
          requestId: 'r-500',
        }),
        { status: 500 },
      ),
      new Response('{}', { status: 401 }),
    ];
    const client = new ApiClient({
      baseUrl: 'https://d1.example/',
      token: async () => 'tok',
      fetch: (async (url: string, init: RequestInit) => {
        seen.push([url, init]);
        return answers.shift()!;
      }) as unknown as typeof fetch,
    });
    const notFound = await client.agent('nope').catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(ApiError);
    expect(describeError(notFound)).toBe('Agent not found (request id: r-404)');
    expect(seen[0][0]).toBe('https://d1.example/v1/agents/nope');
    expect((seen[0][1].headers as Record<string, string>).authorization).toBe('Bearer tok');
    expect(describeError(await client.agents().catch((e: unknown) => e))).toMatch(
      /on our side.*\(request id: r-500\)$/,
    );
    expect(describeError(await client.approvals().catch((e: unknown) => e))).toBe(
      'Your sign-in has expired. Sign in again.',
    );
    const offline = new ApiClient({
      baseUrl: 'https://x',
      token: async () => 't',
      fetch: (async () => {
        throw new TypeError('fetch failed');
      }) as unknown as typeof fetch,
    });
    expect(describeError(await offline.agents().catch((e: unknown) => e))).toBe(
      'Cannot reach Cubicle. Check your network connection and try again.',
    );
  });
});

describe('sending a message', () => {
  const key = (init: RequestInit) => (init.headers as Record<string, string>)['idempotency-key'];
  it('retries a lost connection, a 5xx and a 409 with the same Idempotency-Key, and a new message gets a new key', async () => {
    const seen: RequestInit[] = [];
    const answers: Array<() => Response> = [
      () => {
        throw new TypeError('fetch failed');
      },
      () => new Response(JSON.stringify({ message: 'boom', requestId: 'r-1' }), { status: 503 }),
      () => new Response(JSON.stringify({ message: 'still being processed' }), { status: 409 }),
      () => new Response(JSON.stringify({ messageId: 'm-1', outcome: 'started', agent: {} }), { status: 202 }),
      () => new Response(JSON.stringify({ messageId: 'm-2', outcome: 'active', agent: {} }), { status: 202 }),
    ];
    const pauses: number[] = [];
    const client = new ApiClient({
      baseUrl: 'https://d1.example',
      token: async () => 'tok',
      fetch: (async (_url: string, init: RequestInit) => {
        seen.push(init);
        return answers.shift()!();
      }) as unknown as typeof fetch,
      pause: async (ms) => void pauses.push(ms),
    });
    expect(await client.send('sales', 'hello')).toMatchObject({ messageId: 'm-1' });
    expect(seen).toHaveLength(4);
    expect(new Set(seen.map(key)).size).toBe(1);
    expect(key(seen[0])).toMatch(/^[0-9a-f-]{36}$/);
    expect(pauses).toEqual([SEND_RETRY_MS, 2 * SEND_RETRY_MS, 3 * SEND_RETRY_MS]);
    expect(await client.send('sales', 'another')).toMatchObject({ messageId: 'm-2' });
    expect(key(seen[4])).not.toBe(key(seen[0]));
  });

  it('gives up after the last attempt, and never retries a final 4xx', async () => {
    let calls = 0;
    const failing = (status: number) =>
      new ApiClient({
        baseUrl: 'https://d1.example',
        token: async () => 'tok',
        fetch: (async () => {
          calls += 1;
          return new Response(JSON.stringify({ message: `status ${status}` }), { status });
        }) as unknown as typeof fetch,
        pause: async () => undefined,
      });
    await expect(failing(500).send('sales', 'x')).rejects.toMatchObject({ status: 500 });
    expect(calls).toBe(SEND_ATTEMPTS);
    calls = 0;
    await expect(failing(422).send('sales', 'x')).rejects.toMatchObject({ status: 422, message: 'status 422' });
    expect(calls).toBe(1);
  });
});

const agent = (over: Partial<AgentView>): AgentView => ({
  agentId: 'a',
  provider: 'anthropic',
  status: 'STOPPED',
  wakePending: false,
  providerCredential: true,
  connections: [],
  ...over,
});

describe('credentials', () => {
  it("lists each provider and connection the user's agents use, once, with the kinds the runtime accepts", () => {
    const targets = credentialTargets([
      agent({ agentId: 'sales', provider: 'anthropic', connections: ['crm'] }),
      agent({ agentId: 'finance', provider: 'openai', connections: ['bank-feed', 'crm'] }),
      agent({ agentId: 'research', provider: 'bedrock', providerCredential: false }),
      agent({ agentId: 'helper', provider: 'anthropic' }),
    ]);
    expect(targets).toEqual([
      { kind: 'provider', name: 'anthropic', kinds: ['api-key', 'oauth-token'], agents: ['sales', 'helper'] },
      { kind: 'provider', name: 'openai', kinds: ['api-key', 'access-token'], agents: ['finance'] },
      { kind: 'connection', name: 'bank-feed', kinds: [], agents: ['finance'] },
      { kind: 'connection', name: 'crm', kinds: [], agents: ['sales', 'finance'] },
    ]);
  });

  it("validates with the runtime's schema before anything is sent, never quoting the value", () => {
    expect(
      JSON.parse(credentialPayload({ kind: 'provider', name: 'anthropic' }, 'oauth-token', '  sk-ant-oat-1 ')),
    ).toEqual({ kind: 'oauth-token', value: 'sk-ant-oat-1' });
    expect(credentialPayload({ kind: 'connection', name: 'crm' }, undefined, ' tok ')).toBe('tok');
    const refused = [
      () => credentialPayload({ kind: 'provider', name: 'anthropic' }, 'access-token', 'secret-value-1'),
      () => credentialPayload({ kind: 'provider', name: 'google' }, 'oauth-creds', 'secret-value-2 {not json'),
      () => credentialPayload({ kind: 'provider', name: 'bedrock' }, 'api-key', 'secret-value-3'),
      () => credentialPayload({ kind: 'provider', name: 'anthropic' }, 'api-key', '   '),
      () => credentialPayload({ kind: 'connection', name: 'crm' }, undefined, 'x'.repeat(70_000)),
    ];
    const messages = refused.map((f) => {
      try {
        f();
        return 'accepted';
      } catch (error) {
        return (error as Error).message;
      }
    });
    expect(messages).toEqual([
      'Not a usable anthropic credential: credential kind "access-token" is not accepted for anthropic (accepted: api-key, oauth-token).',
      'Not a usable google credential: the google oauth-creds value must be the JSON text of oauth_creds.json.',
      'Not a usable bedrock credential: provider bedrock takes no stored credential.',
      'Enter the credential: the field is empty.',
      'The credential is too long (at most 65536 characters).',
    ]);
    expect(messages.join(' ')).not.toMatch(/secret-value/);
  });
});

describe('plain language', () => {
  const event = (type: string, data: Record<string, unknown> = {}) => ({
    seq: 1,
    type,
    at: '',
    requestId: 'req-9',
    data,
  });
  it('says what happened, problems with the request id to quote', () => {
    expect(describeEvent(event('reply', { text: 'echo: hi' }))).toEqual({ kind: 'reply', text: 'echo: hi' });
    expect(
      describeEvent(
        event('approval.requested', { tool: 'WebFetch', hosts: ['crm.example'], summary: 'GET https://crm.example/x' }),
      ).text,
    ).toBe('Asks to use WebFetch (crm.example): GET https://crm.example/x');
    expect(describeEvent(event('message.failed', { error: 'provider quota exceeded' }))).toEqual({
      kind: 'problem',
      text: 'The agent could not finish this message: provider quota exceeded',
      requestId: 'req-9',
    });
    expect(describeEvent(event('lifecycle.failed', { reason: 'RunTask: capacity' })).kind).toBe('problem');
    expect(describeEvent(event('approval.resolved', { status: 'expired' })).kind).toBe('problem');
    expect(describeEvent(event('something.new')).text).toBe('something.new');
  });

  it('usage and the 80 % budget notice, in words', () => {
    expect(describeEvent(event('usage', { inputTokens: 100, outputTokens: 40, costUsd: 0.6 })).text).toBe(
      'Used 140 tokens ($0.60).',
    );
    expect(describeEvent(event('usage', { inputTokens: 100, outputTokens: 40 })).text).toBe('Used 140 tokens.');
    expect(
      describeEvent(event('budget.threshold', { scope: 'user', percent: 80, spentUsd: 0.85, limitUsd: 1 })),
    ).toEqual({
      kind: 'problem',
      text: 'Your spend this month reached 80 % of the budget ($0.85 of $1.00). New messages are refused once it is used up.',
      requestId: 'req-9',
    });
    expect(describeEvent(event('budget.threshold', { scope: 'agent', percent: 80 })).text).toMatch(
      /^This agent's spend/,
    );
  });

  it('status, time and time left', () => {
    expect(statusText({ status: 'RUNNING', wakePending: false })).toBe('Awake');
    expect(statusText({ status: 'STOPPING', wakePending: true })).toBe('Restarting');
    const now = Date.UTC(2026, 0, 1, 12);
    expect(relativeTime(undefined, now)).toBe('never');
    expect(relativeTime(new Date(now - 5 * 60_000).toISOString(), now)).toBe('5 min ago');
    expect(timeLeft(new Date(now + 65_000).toISOString(), now)).toBe('1:05 left');
    expect(timeLeft(new Date(now - 1).toISOString(), now)).toBe('expired');
  });
});

describe('who uses a stored credential', () => {
  it('reads as a sentence for one, two and three agents', () => {
    expect(whoUsesIt(['sales'])).toBe('sales uses it');
    expect(whoUsesIt(['sales', 'finance'])).toBe('sales and finance use it');
    expect(whoUsesIt(['a', 'b', 'c'])).toBe('a, b and c use it');
  });
});
