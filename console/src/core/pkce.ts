/**
 * PKCE (RFC 7636, S256) and the `state` value, on the Web Crypto API that browsers and Node 20 share.
 * The verifier is 32 random bytes (43 base64url characters, the RFC's recommendation).
 */

export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function randomToken(byteLength = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(byteLength)));
}

/** A fresh code verifier: 43 characters from the unreserved set. */
export function createVerifier(): string {
  return randomToken(32);
}

/** BASE64URL(SHA-256(ASCII(verifier))). */
export async function challengeOf(verifier: string): Promise<string> {
  if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(verifier))
    throw new Error('a PKCE verifier is 43 to 128 unreserved characters');
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

export interface PkceStart {
  readonly verifier: string;
  readonly challenge: string;
  readonly state: string;
}

export async function startPkce(): Promise<PkceStart> {
  const verifier = createVerifier();
  return { verifier, challenge: await challengeOf(verifier), state: randomToken(16) };
}
