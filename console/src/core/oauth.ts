/**
 * OAuth 2.0 authorization code + PKCE against the configured issuer (Cognito managed login, an external
 * OIDC issuer, or local mode's issuer): the authorize URL, the code exchange, refresh, revocation and the
 * sign-out URL. Public clients only (no secret). Shared by the console and the CLI.
 */
import type { AuthSettings } from '../../settings';

export interface Endpoints {
  readonly authorization: string;
  readonly token: string;
  readonly endSession?: string;
  readonly revocation?: string;
}

/** The issuer's endpoints: from the settings, the rest from its discovery document. */
export async function endpointsOf(auth: AuthSettings, fetcher: typeof fetch = fetch): Promise<Endpoints> {
  let discovered: Record<string, unknown> = {};
  if (!(auth.authorizationEndpoint && auth.tokenEndpoint) && auth.issuer) {
    const url = `${auth.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const response = await fetcher(url, { headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`The sign-in service's discovery document answered ${response.status} (${url}).`);
    discovered = (await response.json()) as Record<string, unknown>;
  }
  const pick = (own: string | undefined, key: string) =>
    own ?? (typeof discovered[key] === 'string' ? (discovered[key] as string) : undefined);
  const authorization = pick(auth.authorizationEndpoint, 'authorization_endpoint');
  const token = pick(auth.tokenEndpoint, 'token_endpoint');
  if (!authorization || !token) throw new Error('The sign-in service names no authorization or token endpoint.');
  return {
    authorization,
    token,
    endSession: pick(auth.endSessionEndpoint, 'end_session_endpoint'),
    revocation: pick(auth.revocationEndpoint, 'revocation_endpoint'),
  };
}

export function authorizeUrl(
  endpoints: Endpoints,
  options: { clientId: string; redirectUri: string; scopes: readonly string[]; state: string; challenge: string },
): string {
  const url = new URL(endpoints.authorization);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', options.clientId);
  url.searchParams.set('redirect_uri', options.redirectUri);
  url.searchParams.set('scope', options.scopes.join(' '));
  url.searchParams.set('state', options.state);
  url.searchParams.set('code_challenge', options.challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  return url.toString();
}

/** Tokens held by a signed-in client. The console keeps them in memory only. */
export interface Tokens {
  /** The token sent to the API and the relay (the access or the ID token, per settings). */
  readonly bearer: string;
  readonly idToken?: string;
  readonly refreshToken?: string;
  /** Epoch ms when the bearer expires. */
  readonly expiresAt: number;
}

export class SignInError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'SignInError';
  }
}

/** The payload of a JWT, unverified: only to read `exp` and a display name. The API verifies tokens. */
export function jwtClaims(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (!part) return {};
  try {
    const binary = atob(part.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (part.length % 4)) % 4));
    const parsed = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Reads a token endpoint answer (RFC 6749 5.1; local mode's `{"token"}` too). */
export function tokensFrom(
  body: Record<string, unknown>,
  bearer: AuthSettings['bearer'],
  now: number,
  previousRefresh?: string,
): Tokens {
  const str = (k: string) => (typeof body[k] === 'string' && body[k] !== '' ? (body[k] as string) : undefined);
  const chosen = str(bearer) ?? str('token') ?? str(bearer === 'id_token' ? 'access_token' : 'id_token');
  if (!chosen) throw new SignInError('The sign-in service returned no token.');
  const exp = jwtClaims(chosen).exp;
  const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : undefined;
  const expiresAt = typeof exp === 'number' ? exp * 1000 : now + (expiresIn ?? 3600) * 1000;
  return { bearer: chosen, idToken: str('id_token'), refreshToken: str('refresh_token') ?? previousRefresh, expiresAt };
}

async function postForm(
  fetcher: typeof fetch,
  url: string,
  form: Record<string, string>,
): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetcher(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
    });
  } catch {
    throw new SignInError('Cannot reach the sign-in service.');
  }
  let body: Record<string, unknown> = {};
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    // not JSON: reported by status below
  }
  if (!response.ok) {
    const reason =
      typeof body.error_description === 'string'
        ? body.error_description
        : typeof body.error === 'string'
          ? body.error
          : `status ${response.status}`;
    throw new SignInError(`The sign-in service refused: ${reason}.`, response.status);
  }
  return body;
}

export async function exchangeCode(
  endpoints: Endpoints,
  auth: Pick<AuthSettings, 'bearer'>,
  options: { clientId: string; code: string; verifier: string; redirectUri: string; now?: number },
  fetcher: typeof fetch = fetch,
): Promise<Tokens> {
  const body = await postForm(fetcher, endpoints.token, {
    grant_type: 'authorization_code',
    client_id: options.clientId,
    code: options.code,
    code_verifier: options.verifier,
    redirect_uri: options.redirectUri,
  });
  return tokensFrom(body, auth.bearer, options.now ?? Date.now());
}

export async function refreshTokens(
  endpoints: Endpoints,
  auth: Pick<AuthSettings, 'bearer'>,
  options: { clientId: string; refreshToken: string; now?: number },
  fetcher: typeof fetch = fetch,
): Promise<Tokens> {
  const body = await postForm(fetcher, endpoints.token, {
    grant_type: 'refresh_token',
    client_id: options.clientId,
    refresh_token: options.refreshToken,
  });
  // Cognito does not rotate refresh tokens: keep the one we have when none comes back.
  return tokensFrom(body, auth.bearer, options.now ?? Date.now(), options.refreshToken);
}

/** Best effort: a revocation that fails still ends the local session. */
export async function revokeRefreshToken(
  endpoints: Endpoints,
  clientId: string,
  refreshToken: string,
  fetcher: typeof fetch = fetch,
): Promise<boolean> {
  if (!endpoints.revocation) return false;
  try {
    await postForm(fetcher, endpoints.revocation, {
      token: refreshToken,
      token_type_hint: 'refresh_token',
      client_id: clientId,
    });
    return true;
  } catch {
    return false;
  }
}

/** Where the browser goes to end the identity provider's session, or undefined when it has no such endpoint. */
export function signOutUrl(
  endpoints: Endpoints,
  auth: AuthSettings,
  returnTo: string,
  idToken?: string,
): string | undefined {
  if (!endpoints.endSession) return undefined;
  const url = new URL(endpoints.endSession);
  if (auth.logoutStyle === 'cognito') {
    url.searchParams.set('client_id', auth.clientId);
    url.searchParams.set('logout_uri', returnTo);
  } else {
    url.searchParams.set('client_id', auth.clientId);
    url.searchParams.set('post_logout_redirect_uri', returnTo);
    if (idToken) url.searchParams.set('id_token_hint', idToken);
  }
  return url.toString();
}
