/**
 * `/local/*`: the issuer's endpoints.
 * - `GET /local/.well-known/openid-configuration`, `GET /local/jwks.json`
 * - `GET /local/sign-in` (list of users) → `POST /local/sign-in` (a page with the user's token)
 * - `GET /local/authorize?response_type=code&client_id&redirect_uri&code_challenge&code_challenge_method=S256&state[&nonce]`
 *   (the same list) → `POST /local/authorize` → 303 to `redirect_uri?code=…&state=…`
 * - `POST /local/token`: `{"user":"<id>"}` as JSON → `{"token":"<JWT>"}` (scripts); or the OAuth form
 *   `grant_type=authorization_code&code&redirect_uri&client_id&code_verifier` → tokens with a refresh token
 *   (RFC 6749 §4.1.3), or `grant_type=refresh_token&refresh_token&client_id` → new tokens (§6).
 * - `POST /local/revoke`: `token&client_id` → 200 (RFC 7009), as the console and CLI call at sign-out.
 * Redirect URIs must be loopback (RFC 8252 §7.3) or this server's own origin: nothing leaves the machine.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorPage, signInPage, tokenPage, type Page } from './pages';
import { LOCAL_CLIENT_ID, OAuthError, TOKEN_LIFETIME_SECONDS, type LocalIssuer } from './issuer';

export const ISSUER_PATH = '/local';

export interface LocalRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly body: Buffer;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
}

const PARAMS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'code_challenge',
  'code_challenge_method',
  'state',
  'nonce',
  'scope',
] as const;

export async function handleIdentity(issuer: LocalIssuer, r: LocalRequest): Promise<boolean> {
  const { req, url } = r;
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case `GET ${ISSUER_PATH}/.well-known/openid-configuration`:
      return sendJson(r, 200, discovery(issuer));
    case `GET ${ISSUER_PATH}/jwks.json`:
      return sendJson(r, 200, issuer.jwks());
    case `GET ${ISSUER_PATH}/sign-in`:
      return sendPage(r, 200, signInPage(issuer.users, `${ISSUER_PATH}/sign-in`));
    case `POST ${ISSUER_PATH}/sign-in`: {
      const user = issuer.user(form(r).get('user'));
      if (!user) return sendPage(r, 400, errorPage('Choose a user of the roster.'));
      return sendPage(r, 200, tokenPage(user, await issuer.accessToken(user), r.origin, TOKEN_LIFETIME_SECONDS));
    }
    case `GET ${ISSUER_PATH}/authorize`:
    case `POST ${ISSUER_PATH}/authorize`:
      return authorize(issuer, r, req.method === 'GET' ? url.searchParams : form(r));
    case `POST ${ISSUER_PATH}/token`:
      return token(issuer, r);
    case `POST ${ISSUER_PATH}/revoke`: {
      const params = form(r);
      issuer.revoke(params.get('token') ?? '', params.get('client_id') ?? '');
      return sendJson(r, 200, {});
    }
    default:
      if (url.pathname === ISSUER_PATH || url.pathname.startsWith(`${ISSUER_PATH}/`))
        return sendJson(r, 404, { message: 'Not found.' });
      return false;
  }
}

function discovery(issuer: LocalIssuer) {
  return {
    issuer: issuer.issuer,
    authorization_endpoint: `${issuer.issuer}/authorize`,
    token_endpoint: `${issuer.issuer}/token`,
    revocation_endpoint: `${issuer.issuer}/revoke`,
    jwks_uri: `${issuer.issuer}/jwks.json`,
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'email'],
  };
}

/** Loopback (any port) or this server's origin; never a fragment. */
export function allowedRedirect(value: string, origin: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.hash || url.username || url.password) return undefined;
  if (url.origin === origin) return url;
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) ? url : undefined;
}

async function authorize(issuer: LocalIssuer, r: LocalRequest, params: URLSearchParams): Promise<true> {
  const p = Object.fromEntries(PARAMS.map((k) => [k, params.get(k) ?? ''])) as Record<(typeof PARAMS)[number], string>;
  // Errors before the redirect URI is trusted are shown here, never redirected (RFC 6749 §4.1.2.1).
  if (p.client_id !== LOCAL_CLIENT_ID)
    return sendPage(r, 400, errorPage(`Unknown client_id: local mode issues tokens to "${LOCAL_CLIENT_ID}".`));
  const redirect = allowedRedirect(p.redirect_uri, r.origin);
  if (!redirect)
    return sendPage(
      r,
      400,
      errorPage('redirect_uri must be a loopback address (http://127.0.0.1:PORT/...) or this server.'),
    );
  const fail = (error: string, description: string) => {
    redirect.searchParams.set('error', error);
    redirect.searchParams.set('error_description', description);
    if (p.state) redirect.searchParams.set('state', p.state);
    return sendRedirect(r, redirect);
  };
  if (p.response_type !== 'code') return fail('unsupported_response_type', 'Only response_type=code is supported.');
  if (p.code_challenge_method !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(p.code_challenge)) {
    return fail('invalid_request', 'PKCE is required: code_challenge (S256) and code_challenge_method=S256.');
  }
  if (r.req.method === 'GET') {
    const hidden = Object.fromEntries(PARAMS.filter((k) => p[k] !== '').map((k) => [k, p[k]]));
    return sendPage(r, 200, signInPage(issuer.users, `${ISSUER_PATH}/authorize`, hidden, redirect.origin));
  }
  const user = issuer.user(params.get('user'));
  if (!user) return fail('access_denied', 'No roster user was chosen.');
  const code = issuer.issueCode({
    userId: user.id,
    clientId: p.client_id,
    redirectUri: p.redirect_uri,
    challenge: p.code_challenge,
    nonce: p.nonce || undefined,
  });
  redirect.searchParams.set('code', code);
  if (p.state) redirect.searchParams.set('state', p.state);
  return sendRedirect(r, redirect);
}

async function token(issuer: LocalIssuer, r: LocalRequest): Promise<true> {
  const type = String(r.req.headers['content-type'] ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
  if (type === 'application/json') {
    let body: unknown;
    try {
      body = JSON.parse(r.body.toString('utf8'));
    } catch {
      return sendJson(r, 400, { message: 'The request body is not valid JSON.' });
    }
    const user = issuer.user((body as { user?: unknown } | null)?.user);
    if (!user) return sendJson(r, 400, { message: 'user must be the id of a roster user.' });
    return sendJson(r, 200, { token: await issuer.accessToken(user) });
  }
  if (type !== 'application/x-www-form-urlencoded') {
    return sendJson(r, 415, {
      message: 'Send {"user":"<id>"} as application/json, or an OAuth token request as a form.',
    });
  }
  const params = form(r);
  try {
    const grant = params.get('grant_type');
    if (grant === 'refresh_token')
      return sendJson(
        r,
        200,
        await issuer.refresh({
          refreshToken: params.get('refresh_token') ?? '',
          clientId: params.get('client_id') ?? '',
        }),
      );
    if (grant !== 'authorization_code')
      throw new OAuthError('unsupported_grant_type', 'grant_type must be authorization_code or refresh_token.');
    const tokens = await issuer.redeem({
      code: params.get('code') ?? '',
      clientId: params.get('client_id') ?? '',
      redirectUri: params.get('redirect_uri') ?? '',
      verifier: params.get('code_verifier') ?? '',
    });
    return sendJson(r, 200, tokens);
  } catch (error) {
    if (error instanceof OAuthError)
      return sendJson(r, 400, { error: error.error, error_description: error.description });
    throw error;
  }
}

function form(r: LocalRequest): URLSearchParams {
  return new URLSearchParams(r.body.toString('utf8'));
}

function sendJson(r: LocalRequest, status: number, value: unknown): true {
  const text = JSON.stringify(value);
  r.res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  r.res.end(text);
  return true;
}

function sendPage(r: LocalRequest, status: number, page: Page): true {
  r.res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': page.csp,
    'content-length': Buffer.byteLength(page.html),
  });
  r.res.end(page.html);
  return true;
}

function sendRedirect(r: LocalRequest, to: URL): true {
  r.res.writeHead(303, { location: to.toString(), 'cache-control': 'no-store' });
  r.res.end();
  return true;
}
