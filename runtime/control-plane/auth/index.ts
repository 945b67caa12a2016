export {
  Authenticator,
  bearerFromHeaders,
  headerValue,
  NOT_ON_ROSTER,
  NOT_SIGNED_IN,
  type Authentication,
} from './authenticator';
export {
  createTokenVerifier,
  InvalidToken,
  TOKEN_ENV,
  TOKEN_ENV_SCHEMA,
  tokenSettings,
  type TokenSettings,
  type TokenVerifier,
} from './token-verifier';
