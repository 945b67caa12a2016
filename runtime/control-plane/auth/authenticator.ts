/**
 * From a bearer token to a roster user: verify the token (token-verifier.ts), then map its claims to a
 * user of the bundled roster. The only way the control plane learns who is calling.
 */
import type { Roster, RosterUser } from '../roster';
import { InvalidToken, type TokenVerifier } from './token-settings';

export type Authentication =
  /** `expiresAt`: the token's expiry (epoch ms), after which a connection opened with it must end. */
  | { readonly ok: true; readonly user: RosterUser; readonly expiresAt?: number }
  /** 401: no token, or one that does not verify. 403: a valid token of someone not on the roster. */
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: string };

export const NOT_SIGNED_IN = 'Sign in again: the request carries no valid Cubicle token.';
export const NOT_ON_ROSTER =
  'Your sign-in is valid but you are not on the Cubicle roster. Ask your platform team to add you.';

export class Authenticator {
  constructor(
    private readonly verifier: TokenVerifier,
    readonly roster: Roster,
  ) {}

  async authenticate(token: string | undefined): Promise<Authentication> {
    if (!token) return { ok: false, status: 401, reason: 'no token' };
    let claims: Record<string, unknown>;
    try {
      claims = await this.verifier.verify(token);
    } catch (error) {
      if (error instanceof InvalidToken) return { ok: false, status: 401, reason: error.reason };
      throw error;
    }
    const user = this.roster.identify(claims as Parameters<Roster['identify']>[0]);
    const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
    return user
      ? { ok: true, user, ...(exp !== undefined ? { expiresAt: exp } : {}) }
      : { ok: false, status: 403, reason: 'not on the roster' };
  }
}

/** The token of an `Authorization: Bearer <token>` header (header names are case-insensitive). */
export function bearerFromHeaders(
  headers: Readonly<Record<string, string | undefined>> | undefined,
): string | undefined {
  const value = headerValue(headers, 'authorization');
  const match = value ? /^Bearer ([A-Za-z0-9_.-]+)$/.exec(value.trim()) : null;
  return match?.[1];
}

export function headerValue(
  headers: Readonly<Record<string, string | undefined>> | undefined,
  name: string,
): string | undefined {
  if (!headers) return undefined;
  if (headers[name] !== undefined) return headers[name];
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}
