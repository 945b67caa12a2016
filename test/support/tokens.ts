/**
 * A test token issuer: an RSA key, its JWKS, and access tokens for roster users. Handler fixtures mint
 * synchronously (node:crypto RS256) so events can be built anywhere; what verifies them is the real
 * verifier (aws-jwt-verify, runtime/control-plane/auth). test/runtime/control-plane/auth.test.ts mints its forged,
 * unsigned, expired and other-audience tokens with jose.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { Jwks } from 'aws-jwt-verify/jwk';
import { Authenticator, createTokenVerifier, type TokenSettings } from '../../runtime/control-plane/auth';
import type { Roster } from '../../runtime/control-plane/roster';

export const TEST_POOL_ID = 'eu-west-1_TestPool1';
export const TEST_CLIENT_ID = 'cubicletestclient';
export const COGNITO_ISSUER = `https://cognito-idp.eu-west-1.amazonaws.com/${TEST_POOL_ID}`;

export class TestIssuer {
  readonly privateKey: KeyObject;
  readonly jwks: Jwks;

  constructor(
    readonly settings: TokenSettings,
    readonly kid = 'test-key-1',
  ) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.jwks = {
      keys: [
        {
          ...(publicKey.export({ format: 'jwk' }) as { kty: string; n: string; e: string }),
          kid,
          alg: 'RS256',
          use: 'sig',
        },
      ],
    };
  }

  static cognito(): TestIssuer {
    return new TestIssuer({ kind: 'cognito', issuer: COGNITO_ISSUER, audience: [TEST_CLIENT_ID] });
  }

  static oidc(issuer = 'https://login.acme.example', audience = 'cubicle-api'): TestIssuer {
    return new TestIssuer({ kind: 'oidc', issuer, audience: [audience], jwksUri: `${issuer}/keys` });
  }

  /** A signed JWT with the issuer's standard claims (overridable) plus `claims`, valid for an hour. */
  mint(claims: Record<string, unknown>, now = Math.floor(Date.now() / 1000)): string {
    const base =
      this.settings.kind === 'cognito'
        ? { iss: this.settings.issuer, token_use: 'access', client_id: this.settings.audience[0] }
        : { iss: this.settings.issuer, aud: this.settings.audience[0] };
    const payload = { ...base, iat: now, exp: now + 3600, ...claims };
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${encode({ alg: 'RS256', typ: 'JWT', kid: this.kid })}.${encode(payload)}`;
    return `${input}.${sign('sha256', Buffer.from(input), this.privateKey).toString('base64url')}`;
  }

  /** A Cognito access token of a roster user (username = roster id). */
  tokenFor(userId: string): string {
    return this.mint({ sub: `sub-${userId}`, username: userId });
  }

  authenticator(roster: Roster): Authenticator {
    return new Authenticator(createTokenVerifier(this.settings, { jwks: this.jwks }), roster);
  }
}

/** The issuer every handler fixture uses. */
export const ISSUER = TestIssuer.cognito();
