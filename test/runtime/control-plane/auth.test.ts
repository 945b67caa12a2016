import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Authenticator,
  createTokenVerifier,
  InvalidToken,
  type TokenSettings,
} from '../../../runtime/control-plane/auth';
import { discoverJwksUri } from '../../../runtime/control-plane/auth/token-verifier';
import { ROSTER } from './support/fixtures';
import { COGNITO_ISSUER, TEST_CLIENT_ID } from '../../support/tokens';

/**
 * The token verifier against real signed tokens (jose) and a JWKS served over HTTP, as an issuer serves it:
 * every way a token can be wrong is a 401, and a direct invoke cannot choose its identity.
 */
let server: Server;
let base: string;
let key: CryptoKey;
let otherKey: CryptoKey;
let served = 0;
const KID = 'k1';

beforeAll(async () => {
  otherKey = (await generateKeyPair('ES256')).privateKey;
  const pair = await generateKeyPair('ES256', { extractable: true });
  key = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'ES256', use: 'sig' };
  server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` }));
    } else if (req.url === '/jwks') {
      served += 1;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const oidc = (): TokenSettings => ({ kind: 'oidc', issuer: base, audience: ['cubicle-api'], jwksUri: `${base}/jwks` });
const now = () => Math.floor(Date.now() / 1000);

function token(
  claims: Record<string, unknown>,
  options: { key?: CryptoKey; kid?: string; iat?: number; exp?: number } = {},
) {
  return new SignJWT({ iss: base, aud: 'cubicle-api', sub: 's-bruno', username: 'bruno', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? KID })
    .setIssuedAt(options.iat ?? now())
    .setExpirationTime(options.exp ?? now() + 600)
    .sign(options.key ?? key);
}

describe('token verifier (OIDC issuer, JWKS over HTTP)', () => {
  it("accepts a token signed by the issuer's key, for this audience, not expired", async () => {
    const claims = await createTokenVerifier(oidc()).verify(await token({}));
    expect(claims).toMatchObject({ username: 'bruno', aud: 'cubicle-api' });
    expect(served).toBeGreaterThan(0);
  });

  it('refuses forged, unsigned, expired, not-yet-valid, other-audience and other-issuer tokens', async () => {
    const verifier = createTokenVerifier(oidc());
    const cases: Array<[string, string]> = [
      ['forged (another key, same kid)', await token({}, { key: otherKey })],
      [
        'unsigned (alg none)',
        new UnsecuredJWT({ iss: base, aud: 'cubicle-api', username: 'bruno' })
          .setIssuedAt()
          .setExpirationTime('10m')
          .encode(),
      ],
      ['expired', await token({}, { iat: now() - 7200, exp: now() - 3600 })],
      ['not yet valid', await token({ nbf: now() + 3600 })],
      ['another audience', await token({ aud: 'someone-else' })],
      ['another issuer', await token({ iss: 'https://evil.example' })],
      ['an unknown kid', await token({}, { kid: 'nope' })],
      ['garbage', 'not.a.jwt'],
    ];
    for (const [what, jwt] of cases) {
      await expect(verifier.verify(jwt), what).rejects.toBeInstanceOf(InvalidToken);
    }
    // A tampered payload with the original signature.
    const [h, , s] = (await token({})).split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ iss: base, aud: 'cubicle-api', username: 'alice', exp: now() + 600 })).toString('base64url')}.${s}`;
    await expect(verifier.verify(tampered)).rejects.toBeInstanceOf(InvalidToken);
  });

  it('discovers the JWKS URI from the issuer, and refuses a discovery document naming another issuer', async () => {
    const verifier = createTokenVerifier({ ...oidc(), jwksUri: undefined });
    expect(await verifier.verify(await token({}))).toMatchObject({ username: 'bruno' });
    await expect(
      discoverJwksUri(base, async () => ({ issuer: 'https://evil.example', jwks_uri: 'https://evil.example/jwks' })),
    ).rejects.toThrow(/does not name this issuer/);
  });

  it('maps a verified token to the roster: 401 for bad tokens, 403 for valid strangers, never a user from anything else', async () => {
    const auth = new Authenticator(createTokenVerifier(oidc()), ROSTER);
    expect(await auth.authenticate(undefined)).toMatchObject({ ok: false, status: 401 });
    expect(await auth.authenticate(await token({}, { key: otherKey }))).toMatchObject({ ok: false, status: 401 });
    expect(await auth.authenticate(await token({ username: 'mallory' }))).toMatchObject({ ok: false, status: 403 });
    const ok = await auth.authenticate(await token({}));
    expect(ok.ok && ok.user.id).toBe('bruno');
  });
});

describe('token verifier (Cognito user pool)', () => {
  it("accepts access tokens of the app client only: an ID token or another client's token is refused", async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    const jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'c1', alg: 'RS256', use: 'sig' }] } as never;
    const verifier = createTokenVerifier(
      { kind: 'cognito', issuer: COGNITO_ISSUER, audience: [TEST_CLIENT_ID] },
      { jwks },
    );
    const mint = (claims: Record<string, unknown>) =>
      new SignJWT({ iss: COGNITO_ISSUER, username: 'alice', ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: 'c1' })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(pair.privateKey);
    expect(await verifier.verify(await mint({ token_use: 'access', client_id: TEST_CLIENT_ID }))).toMatchObject({
      username: 'alice',
    });
    await expect(verifier.verify(await mint({ token_use: 'id', aud: TEST_CLIENT_ID }))).rejects.toBeInstanceOf(
      InvalidToken,
    );
    await expect(
      verifier.verify(await mint({ token_use: 'access', client_id: 'another-client' })),
    ).rejects.toBeInstanceOf(InvalidToken);
    await expect(
      verifier.verify(
        await mint({
          token_use: 'access',
          client_id: TEST_CLIENT_ID,
          iss: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other',
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidToken);
  });

  it('refuses a configuration whose issuer is not a user pool', () => {
    expect(() => createTokenVerifier({ kind: 'cognito', issuer: 'https://example.com', audience: ['x'] })).toThrow(
      /not a Cognito user pool issuer/,
    );
  });
});
