/**
 * The local OIDC issuer: an RSA signing key kept in `<data>/issuer/` (RS256, as API Gateway's JWT
 * authorizer requires), short-lived tokens for the roster's users, and authorization codes bound to a
 * PKCE challenge (S256 only, RFC 7636) for the browser sign-in flow. JWTs are made and checked with jose.
 *
 * Access tokens carry the claims a Cognito access token has (`username`, `client_id`, `token_use`) and
 * the email claims an external OIDC issuer would (`email`, `email_verified`, and the roster's
 * `userClaim`), so the same roster directory identifies the user whichever identity the config names.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import type { RosterDirectory, RosterUser } from '../../runtime/control-plane/roster';
import { writeFileAtomic } from '../files';

/** The client id local tokens are issued to (the audience the API accepts). */
export const LOCAL_CLIENT_ID = 'cubicle-local';
/** As the default Cognito client's access and ID tokens (lib/constructs/identity.ts). */
export const TOKEN_LIFETIME_SECONDS = 3600;
const CODE_LIFETIME_MS = 60_000;
/** As the default Cognito client's refresh tokens (30 days); kept in memory, so a restart signs everyone out. */
const REFRESH_LIFETIME_MS = 30 * 24 * 3600 * 1000;
const ALG = 'RS256';

type SigningKey = Awaited<ReturnType<typeof importJWK>>;

export class OAuthError extends Error {
  constructor(
    readonly error:
      'invalid_request' | 'invalid_grant' | 'invalid_client' | 'unsupported_grant_type' | 'unauthorized_client',
    readonly description: string,
  ) {
    super(description);
  }
}

interface PendingCode {
  readonly userId: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly challenge: string;
  readonly nonce?: string;
  readonly expiresAt: number;
}

export interface TokenSet {
  readonly access_token: string;
  readonly id_token: string;
  /** Issued with the authorization code grant only; a refresh keeps the one the client has (as Cognito). */
  readonly refresh_token?: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
}

interface RefreshGrant {
  readonly userId: string;
  readonly clientId: string;
  readonly expiresAt: number;
}

export class LocalIssuer {
  private readonly codes = new Map<string, PendingCode>();
  private readonly refreshTokens = new Map<string, RefreshGrant>();

  private constructor(
    readonly issuer: string,
    private readonly roster: RosterDirectory,
    private readonly privateKey: SigningKey,
    private readonly publicJwk: JWK,
  ) {}

  /** Loads the signing key from `dir` (creating it on first start). */
  static async open(dir: string, issuer: string, roster: RosterDirectory): Promise<LocalIssuer> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, 'signing-key.json');
    let privateJwk: JWK;
    if (existsSync(file)) {
      privateJwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
    } else {
      const pair = await generateKeyPair(ALG, { extractable: true, modulusLength: 2048 });
      privateJwk = await exportJWK(pair.privateKey);
      privateJwk.kid = await calculateJwkThumbprint(privateJwk);
      writeFileAtomic(file, JSON.stringify(privateJwk));
    }
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicPart } = privateJwk;
    const publicJwk: JWK = { ...publicPart, alg: ALG, use: 'sig' };
    return new LocalIssuer(issuer, roster, await importJWK(privateJwk, ALG), publicJwk);
  }

  get users(): readonly RosterUser[] {
    return this.roster.users;
  }

  user(id: unknown): RosterUser | undefined {
    return typeof id === 'string' ? this.roster.users.find((u) => u.id === id) : undefined;
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  async accessToken(user: RosterUser): Promise<string> {
    const claims: Record<string, unknown> = {
      client_id: LOCAL_CLIENT_ID,
      token_use: 'access',
      scope: 'openid email',
      username: user.id,
      email: user.email,
      email_verified: true,
    };
    if (this.roster.identity.kind === 'oidc') claims[this.roster.identity.claim] = user.email;
    return this.sign(user, claims);
  }

  async tokens(user: RosterUser, nonce?: string): Promise<TokenSet> {
    const id = await this.sign(user, {
      token_use: 'id',
      'cognito:username': user.id,
      email: user.email,
      email_verified: true,
      ...(nonce ? { nonce } : {}),
    });
    return {
      access_token: await this.accessToken(user),
      id_token: id,
      token_type: 'Bearer',
      expires_in: TOKEN_LIFETIME_SECONDS,
    };
  }

  /** A single-use code for the user, bound to the client, redirect URI and PKCE challenge. */
  issueCode(request: {
    userId: string;
    clientId: string;
    redirectUri: string;
    challenge: string;
    nonce?: string;
  }): string {
    const now = Date.now();
    for (const [code, pending] of this.codes) if (pending.expiresAt <= now) this.codes.delete(code);
    const code = randomBytes(32).toString('base64url');
    this.codes.set(code, { ...request, expiresAt: now + CODE_LIFETIME_MS });
    return code;
  }

  async redeem(request: { code: string; clientId: string; redirectUri: string; verifier: string }): Promise<TokenSet> {
    const pending = this.codes.get(request.code);
    // Single use: a code is gone after its first redemption attempt, successful or not.
    this.codes.delete(request.code);
    if (!pending || pending.expiresAt <= Date.now())
      throw new OAuthError('invalid_grant', 'The authorization code is unknown, used or expired.');
    if (pending.clientId !== request.clientId)
      throw new OAuthError('invalid_grant', 'The code was issued to another client.');
    if (pending.redirectUri !== request.redirectUri)
      throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request.');
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(request.verifier))
      throw new OAuthError('invalid_request', 'code_verifier must be 43 to 128 unreserved characters.');
    const computed = Buffer.from(createHash('sha256').update(request.verifier, 'ascii').digest('base64url'));
    const expected = Buffer.from(pending.challenge);
    if (computed.length !== expected.length || !timingSafeEqual(computed, expected))
      throw new OAuthError('invalid_grant', 'code_verifier does not match the code challenge.');
    const user = this.user(pending.userId);
    if (!user) throw new OAuthError('invalid_grant', 'The user is no longer on the roster.');
    const refreshToken = randomBytes(32).toString('base64url');
    this.refreshTokens.set(refreshToken, {
      userId: user.id,
      clientId: pending.clientId,
      expiresAt: Date.now() + REFRESH_LIFETIME_MS,
    });
    return { ...(await this.tokens(user, pending.nonce)), refresh_token: refreshToken };
  }

  /** New access and ID tokens for a refresh token issued to the same client (RFC 6749 §6); the user must still be on the roster. */
  async refresh(request: { refreshToken: string; clientId: string }): Promise<TokenSet> {
    const grant = this.refreshTokens.get(request.refreshToken);
    if (!grant || grant.expiresAt <= Date.now())
      throw new OAuthError('invalid_grant', 'The refresh token is unknown, revoked or expired.');
    if (grant.clientId !== request.clientId)
      throw new OAuthError('invalid_grant', 'The refresh token was issued to another client.');
    const user = this.user(grant.userId);
    if (!user) {
      this.refreshTokens.delete(request.refreshToken);
      throw new OAuthError('invalid_grant', 'The user is no longer on the roster.');
    }
    return this.tokens(user);
  }

  /** Revokes a refresh token (RFC 7009 §2.2: an unknown token is not an error). */
  revoke(token: string, clientId: string): void {
    const grant = this.refreshTokens.get(token);
    if (grant && grant.clientId === clientId) this.refreshTokens.delete(token);
  }

  private sign(user: RosterUser, claims: Record<string, unknown>): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: ALG, kid: this.publicJwk.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(user.id)
      .setAudience(LOCAL_CLIENT_ID)
      .setIssuedAt()
      .setExpirationTime(`${TOKEN_LIFETIME_SECONDS}s`)
      .setJti(randomBytes(16).toString('hex'))
      .sign(this.privateKey);
  }
}
