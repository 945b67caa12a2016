/**
 * The token settings of a function (from CUBICLE_TOKEN_*), checked at cold start, and what verifying a
 * token promises. Apart from token-verifier.ts, which does the verifying with aws-jwt-verify and is loaded
 * on the first request that carries a token: loading it at cold start (node:https, node:crypto and the
 * library) cost each cold start ~10 ms (issue 15), and a request refused earlier never needs it.
 */
import type { JwtPayload } from 'aws-jwt-verify/jwt-model';
import { TOKEN_ENV } from '../../shared/function-contract';
import { envSchema, matching, oneOf, optional, type EnvOf } from '../env-rules';

export { TOKEN_ENV };

export const COGNITO_ISSUER = /^https:\/\/cognito-idp\.([a-z0-9-]+)\.amazonaws\.com\/([\w-]+_[0-9A-Za-z]+)$/;

export type TokenKind = 'cognito' | 'oidc';

export interface TokenSettings {
  readonly kind: TokenKind;
  /** Expected `iss`. For Cognito: `https://cognito-idp.<region>.amazonaws.com/<poolId>`. */
  readonly issuer: string;
  /** Accepted `aud` values (OIDC) or app client ids (Cognito access tokens carry `client_id`). */
  readonly audience: readonly string[];
  /** Where the issuer's keys are; OIDC default: discovered from `<issuer>/.well-known/openid-configuration`. */
  readonly jwksUri?: string;
}

/** https, or http on loopback only (local mode's issuer). */
export const LOOPBACK_HTTP = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/;
const httpsUrl = matching(
  new RegExp(`^https://\\S+$|${LOOPBACK_HTTP.source}`),
  'must be an https URL (http only on loopback)',
);
export const TOKEN_ENV_SCHEMA = envSchema({
  [TOKEN_ENV.kind]: oneOf(['cognito', 'oidc'] as const),
  [TOKEN_ENV.issuer]: httpsUrl,
  [TOKEN_ENV.audience]: matching(/^[^,\s]+(,[^,\s]+)*$/, 'must be comma-separated audiences'),
  [TOKEN_ENV.jwksUri]: optional(httpsUrl),
});

/** The settings; a Cognito issuer that names no user pool fails here, at cold start. */
export function tokenSettings(env: EnvOf<typeof TOKEN_ENV_SCHEMA>): TokenSettings {
  if (env[TOKEN_ENV.kind] === 'cognito' && !COGNITO_ISSUER.test(env[TOKEN_ENV.issuer]))
    throw new Error(`${TOKEN_ENV.issuer}: not a Cognito user pool issuer`);
  return {
    kind: env[TOKEN_ENV.kind],
    issuer: env[TOKEN_ENV.issuer],
    audience: env[TOKEN_ENV.audience].split(','),
    jwksUri: env[TOKEN_ENV.jwksUri],
  };
}

/** Raised for any token that does not verify; the message is safe to log (never the token). */
export class InvalidToken extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'InvalidToken';
  }
}

export interface TokenVerifier {
  /** The verified claims; throws InvalidToken otherwise. */
  verify(token: string): Promise<JwtPayload>;
}
