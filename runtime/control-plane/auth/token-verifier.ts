/**
 * Verifies an employee's bearer JWT in our own code (never trusting API Gateway's authorizer claims
 * alone): signature against the issuer's JWKS, issuer, audience or Cognito client id, expiry and not-before,
 * and for Cognito the token use (`access`: the token meant for APIs). AWS's aws-jwt-verify does the work.
 * Used by the HTTP API function, the credential writer and the relay's device `$connect`; local mode
 * points it at its own issuer (CUBICLE_TOKEN_JWKS_URI, or a JWKS handed over directly).
 */
import { CognitoJwtVerifier, JwtVerifier } from 'aws-jwt-verify';
import { SimpleJwksCache, type Jwks } from 'aws-jwt-verify/jwk';
import type { JwtPayload } from 'aws-jwt-verify/jwt-model';
import { TOKEN_ENV } from '../../shared/function-contract';
import { COGNITO_ISSUER, InvalidToken, LOOPBACK_HTTP, type TokenSettings, type TokenVerifier } from './token-settings';

export {
  InvalidToken,
  TOKEN_ENV,
  TOKEN_ENV_SCHEMA,
  tokenSettings,
  type TokenKind,
  type TokenSettings,
  type TokenVerifier,
} from './token-settings';

export interface VerifierOptions {
  /** A JWKS to trust without fetching (tests, local mode). */
  readonly jwks?: Jwks;
  /** Fetch for OIDC discovery (tests inject one). */
  readonly fetchJson?: (url: string) => Promise<unknown>;
}

/** Clock skew tolerated on exp/nbf between the issuer and this function. */
const GRACE_SECONDS = 30;

export function createTokenVerifier(settings: TokenSettings, options: VerifierOptions = {}): TokenVerifier {
  const audience = [...settings.audience];
  let verify: (token: string) => Promise<JwtPayload>;
  if (settings.kind === 'cognito') {
    const match = COGNITO_ISSUER.exec(settings.issuer);
    if (!match) throw new Error(`${TOKEN_ENV.issuer}: not a Cognito user pool issuer`);
    // tokenUse 'access' checks token_use and client_id (access tokens have no aud).
    const verifier = CognitoJwtVerifier.create({
      userPoolId: match[2],
      tokenUse: 'access',
      clientId: audience,
      graceSeconds: GRACE_SECONDS,
    });
    if (options.jwks) verifier.cacheJwks(options.jwks);
    verify = (token) => verifier.verify(token) as Promise<JwtPayload>;
  } else {
    let ready: Promise<(token: string) => Promise<JwtPayload>> | undefined;
    const build = async () => {
      const jwksUri = settings.jwksUri ?? (await discoverJwksUri(settings.issuer, options.fetchJson ?? fetchJson));
      const verifier = JwtVerifier.create(
        { issuer: settings.issuer, audience, jwksUri, graceSeconds: GRACE_SECONDS },
        { jwksCache: webJwksCache() },
      );
      if (options.jwks) verifier.cacheJwks(options.jwks);
      return (token: string) => verifier.verify(token) as Promise<JwtPayload>;
    };
    verify = async (token) => {
      ready ??= build().catch((error: unknown) => {
        ready = undefined;
        throw error;
      });
      return (await ready)(token);
    };
  }
  return {
    async verify(token) {
      try {
        return await verify(token);
      } catch (error) {
        throw new InvalidToken(describe(error));
      }
    },
  };
}

/** The issuer's JWKS URI from its discovery document, which must name the same issuer (OIDC Discovery §4.3). */
export async function discoverJwksUri(issuer: string, fetch: (url: string) => Promise<unknown>): Promise<string> {
  const doc = (await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`)) as {
    issuer?: unknown;
    jwks_uri?: unknown;
  };
  if (
    doc?.issuer !== issuer ||
    typeof doc.jwks_uri !== 'string' ||
    !(/^https:\/\//.test(doc.jwks_uri) || LOOPBACK_HTTP.test(doc.jwks_uri))
  ) {
    throw new Error("the issuer's discovery document does not name this issuer and an https jwks_uri");
  }
  return doc.jwks_uri;
}

/** JWKS fetched with the platform's fetch: https anywhere, plain http only on loopback (local mode). */
function webJwksCache(): SimpleJwksCache {
  return new SimpleJwksCache({
    fetcher: {
      fetch: async (uri: string) => {
        const response = await guardedFetch(uri);
        if (!response.ok) throw new Error(`the JWKS URI answered ${response.status}`);
        return response.arrayBuffer();
      },
    },
  });
}

function guardedFetch(url: string): Promise<Response> {
  if (!/^https:\/\//.test(url) && !LOOPBACK_HTTP.test(url)) throw new Error('refusing a non-https URL');
  return fetch(url, { signal: AbortSignal.timeout(5_000), redirect: 'error' });
}

async function fetchJson(url: string): Promise<unknown> {
  const response = await guardedFetch(url);
  if (!response.ok) throw new Error(`discovery answered ${response.status}`);
  return response.json();
}

/** The library's error class name says what failed (expired, audience, signature...): enough to log. */
function describe(error: unknown): string {
  const name = (error as Error)?.name ?? 'Error';
  return name === 'Error' ? 'the token could not be verified' : name;
}
