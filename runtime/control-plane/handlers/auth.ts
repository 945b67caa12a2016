import { Authenticator } from '../auth/authenticator';
import { TOKEN_ENV_SCHEMA, tokenSettings, type TokenVerifier } from '../auth/token-settings';
import { parseEnv } from '../env';
import type { Roster } from '../roster';
import { lazy } from './lazy';

/**
 * The token verifier of a function: configured at cold start from TOKEN_* (a bad value fails there), built
 * with aws-jwt-verify on the first request that carries a token (token-settings.ts says why).
 */
export function loadAuthenticator(roster: Roster): Authenticator {
  const settings = tokenSettings(parseEnv(TOKEN_ENV_SCHEMA));
  const verifier = lazy(async () => (await import('../auth/token-verifier.js')).createTokenVerifier(settings));
  const deferred: TokenVerifier = { verify: async (token) => (await verifier()).verify(token) };
  return new Authenticator(deferred, roster);
}
