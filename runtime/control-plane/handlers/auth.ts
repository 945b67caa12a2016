import { Authenticator, createTokenVerifier, TOKEN_ENV_SCHEMA, tokenSettings } from '../auth';
import { parseEnv } from '../env';
import type { Roster } from '../roster';

/** The token verifier of a function, configured at cold start from TOKEN_* (a bad value fails here). */
export function loadAuthenticator(roster: Roster): Authenticator {
  return new Authenticator(createTokenVerifier(tokenSettings(parseEnv(TOKEN_ENV_SCHEMA))), roster);
}
