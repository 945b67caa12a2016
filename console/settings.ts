/**
 * The console's runtime settings (`config.json`, served beside the static files) and its
 * Content-Security-Policy. One module for the three places that need them: the CDK construct that
 * writes config.json and the CloudFront response headers, local mode (which serves both itself), and
 * the console and CLI that read config.json. Pure: no DOM, no Node APIs.
 */

/** The loopback port the CLI listens on for its sign-in redirect; registered with the identity provider. */
export const CLI_REDIRECT_PORT = 53682;
/** Cognito accepts plain http only for `localhost` callback URLs. */
export const CLI_REDIRECT_URI = `http://localhost:${CLI_REDIRECT_PORT}/callback`;

/** Which token of the token response the API expects as the bearer. */
export type BearerToken = 'access_token' | 'id_token';

export interface AuthSettings {
  /** OIDC issuer. Endpoints below that are absent are read from its discovery document. */
  readonly issuer?: string;
  readonly authorizationEndpoint?: string;
  readonly tokenEndpoint?: string;
  /** Where sign-out sends the browser (Cognito `/logout`, or the issuer's `end_session_endpoint`). */
  readonly endSessionEndpoint?: string;
  /** Refresh-token revocation (RFC 7009), called on sign-out. */
  readonly revocationEndpoint?: string;
  /** The console's client id (redirect: the console's own origin, `/`). */
  readonly clientId: string;
  /** The CLI's client id (redirect: CLI_REDIRECT_URI). */
  readonly cliClientId: string;
  readonly scopes: readonly string[];
  /** Cognito access tokens carry `username`; an external issuer's ID token carries the email claim. */
  readonly bearer: BearerToken;
  /** Cognito's `/logout` takes `client_id` + `logout_uri`; OIDC takes `post_logout_redirect_uri`. */
  readonly logoutStyle: 'cognito' | 'oidc';
  /**
   * Local mode only: `POST {"user": "<id>"}` → `{"token": "<JWT>"}` for scripts and tests. Never set in
   * AWS (the construct cannot set it: see consoleSettingsForAws).
   */
  readonly localTokenEndpoint?: string;
}

export interface ConsoleSettings {
  readonly version: 1;
  /** Base URL of the API; its routes are `/v1/...` under it. Empty: the console's own origin. */
  readonly apiUrl: string;
  /** The relay's WebSocket URL. Empty: `/v1/relay` on the console's own origin (ws: or wss:). */
  readonly relayUrl: string;
  readonly auth: AuthSettings;
}

export const DEFAULT_SCOPES = ['openid', 'email', 'profile'] as const;

/** Settings for a Cognito user pool with a managed-login domain (the stack's default identity). */
export function cognitoSettings(options: {
  readonly domainUrl: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly cliClientId: string;
}): AuthSettings {
  const d = options.domainUrl.replace(/\/$/, '');
  return {
    issuer: options.issuer,
    authorizationEndpoint: `${d}/oauth2/authorize`,
    tokenEndpoint: `${d}/oauth2/token`,
    revocationEndpoint: `${d}/oauth2/revoke`,
    endSessionEndpoint: `${d}/logout`,
    clientId: options.clientId,
    cliClientId: options.cliClientId,
    scopes: [...DEFAULT_SCOPES],
    bearer: 'access_token',
    logoutStyle: 'cognito',
  };
}

/** Settings for an external OIDC issuer: endpoints from its discovery document, the ID token as bearer. */
export function oidcSettings(options: { readonly issuer: string; readonly clientId: string }): AuthSettings {
  return {
    issuer: options.issuer,
    clientId: options.clientId,
    cliClientId: options.clientId,
    scopes: [...DEFAULT_SCOPES],
    bearer: 'id_token',
    logoutStyle: 'oidc',
  };
}

const URL_KEYS = [
  'issuer',
  'authorizationEndpoint',
  'tokenEndpoint',
  'endSessionEndpoint',
  'revocationEndpoint',
  'localTokenEndpoint',
] as const;

/**
 * Checks a parsed config.json; throws one message naming the field. The console and CLI call it on what
 * they fetched, so a broken deployment says what is wrong instead of failing somewhere later.
 */
export function parseSettings(value: unknown): ConsoleSettings {
  const fail = (what: string): never => {
    throw new Error(`config.json: ${what}`);
  };
  if (!value || typeof value !== 'object') fail('is not a JSON object');
  const s = value as Record<string, unknown>;
  if (s.version !== 1) fail('version must be 1');
  for (const key of ['apiUrl', 'relayUrl'] as const) {
    if (typeof s[key] !== 'string') fail(`${key} must be a string`);
    if (s[key] !== '' && !isHttpUrl(s[key] as string, key === 'relayUrl'))
      fail(`${key} must be an absolute URL or empty`);
  }
  const auth = s.auth as Record<string, unknown> | undefined;
  if (!auth || typeof auth !== 'object') fail('auth is missing');
  const a = auth as Record<string, unknown>;
  for (const key of URL_KEYS) {
    if (a[key] !== undefined && (typeof a[key] !== 'string' || !isHttpUrl(a[key] as string, false)))
      fail(`auth.${key} must be an https URL`);
  }
  for (const key of ['clientId', 'cliClientId'] as const) {
    if (typeof a[key] !== 'string' || a[key] === '') fail(`auth.${key} must be a non-empty string`);
  }
  if (!Array.isArray(a.scopes) || !a.scopes.every((x) => typeof x === 'string'))
    fail('auth.scopes must be a list of strings');
  if (a.bearer !== 'access_token' && a.bearer !== 'id_token') fail('auth.bearer must be "access_token" or "id_token"');
  if (a.logoutStyle !== 'cognito' && a.logoutStyle !== 'oidc') fail('auth.logoutStyle must be "cognito" or "oidc"');
  if (!a.issuer && !(a.authorizationEndpoint && a.tokenEndpoint))
    fail('auth needs an issuer or both authorizationEndpoint and tokenEndpoint');
  return value as ConsoleSettings;
}

function isHttpUrl(text: string, websocket: boolean): boolean {
  try {
    const url = new URL(text);
    const secure = websocket ? url.protocol === 'wss:' : url.protocol === 'https:';
    const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
    const plain = websocket ? url.protocol === 'ws:' : url.protocol === 'http:';
    return secure || (plain && loopback);
  } catch {
    return false;
  }
}

/** The API's URL for a path, against the console's origin when apiUrl is empty. */
export function apiBase(settings: ConsoleSettings, origin: string): string {
  return (settings.apiUrl || origin).replace(/\/$/, '');
}

/** The relay URL: configured, or `/v1/relay` on the API's origin with ws(s). */
export function relayUrl(settings: ConsoleSettings, origin: string): string {
  if (settings.relayUrl) return settings.relayUrl;
  const base = new URL(apiBase(settings, origin));
  base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  base.pathname = '/v1/relay';
  return base.toString();
}

/**
 * The console's Content-Security-Policy. Everything from its own origin only, no inline script or style,
 * no eval, no plugins, no framing, no <base>; `connect-src` adds only the identity provider's origins
 * (token, revocation, discovery) to 'self', which covers the API and the relay on the same origin
 * (CSP Level 3: 'self' matches ws:/wss: on the page's host). Trusted Types admit no policy, so no
 * string ever reaches an HTML sink.
 */
export function consoleContentSecurityPolicy(connectOrigins: readonly string[] = []): string {
  const extra = [...new Set(connectOrigins.map((o) => new URL(o).origin))].sort();
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${["'self'", ...extra].join(' ')}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join('; ');
}

/** Origins the console's page talks to besides its own, from its settings (for connect-src). */
export function connectOriginsOf(settings: ConsoleSettings): string[] {
  const a = settings.auth;
  return [settings.apiUrl, settings.relayUrl, a.issuer, a.tokenEndpoint, a.revocationEndpoint]
    .filter((u): u is string => typeof u === 'string' && u !== '')
    .map((u) => new URL(u).origin);
}
