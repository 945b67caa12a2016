/**
 * The browser's sign-in: authorization code + PKCE with a redirect to the identity provider and back to
 * the console's root. Tokens live in this object's memory only (never localStorage or sessionStorage), so
 * a reload signs in again (the provider's own session makes that one redirect). Only the one-time PKCE
 * verifier and state wait in sessionStorage during the redirect, and are removed when it returns.
 * The bearer is refreshed a minute before it expires while a refresh token exists.
 */
import type { ConsoleSettings } from '../../settings';
import {
  authorizeUrl,
  endpointsOf,
  exchangeCode,
  jwtClaims,
  refreshTokens,
  revokeRefreshToken,
  signOutUrl,
  type Endpoints,
  type Tokens,
} from '../core/oauth';
import { startPkce } from '../core/pkce';

const PENDING_KEY = 'cubicle.sign-in';
const REFRESH_MARGIN_MS = 60_000;

export class SignedOut extends Error {
  constructor(message = 'You are signed out.') {
    super(message);
    this.name = 'SignedOut';
  }
}

export class BrowserSession {
  private tokens?: Tokens;
  private refreshing?: Promise<Tokens>;
  private timer?: ReturnType<typeof setTimeout>;
  private readonly listeners = new Set<() => void>();
  /** Why the last sign-in or refresh failed, for the sign-in page. */
  problem?: string;

  private constructor(
    readonly settings: ConsoleSettings,
    private readonly endpoints: Endpoints,
  ) {}

  /** Loads the provider's endpoints and completes a sign-in redirect if this page load is one. */
  static async start(settings: ConsoleSettings): Promise<BrowserSession> {
    const session = new BrowserSession(settings, await endpointsOf(settings.auth));
    await session.completeRedirect();
    return session;
  }

  get redirectUri(): string {
    return `${location.origin}/`;
  }

  get signedIn(): boolean {
    return this.tokens !== undefined;
  }

  /** A name to show: the username, email or subject of the token. */
  get userName(): string {
    if (!this.tokens) return '';
    const claims = { ...jwtClaims(this.tokens.idToken ?? ''), ...jwtClaims(this.tokens.bearer) };
    for (const key of ['username', 'cognito:username', 'email', 'preferred_username', 'sub']) {
      if (typeof claims[key] === 'string') return claims[key] as string;
    }
    return '';
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  async signIn(): Promise<void> {
    const { verifier, challenge, state } = await startPkce();
    sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, returnTo: location.hash || '#/' }));
    location.assign(
      authorizeUrl(this.endpoints, {
        clientId: this.settings.auth.clientId,
        redirectUri: this.redirectUri,
        scopes: this.settings.auth.scopes,
        state,
        challenge,
      }),
    );
  }

  private async completeRedirect(): Promise<void> {
    const params = new URLSearchParams(location.search);
    if (!params.has('code') && !params.has('error')) return;
    const pending = sessionStorage.getItem(PENDING_KEY);
    sessionStorage.removeItem(PENDING_KEY);
    let returnTo = '#/';
    try {
      const saved = pending
        ? (JSON.parse(pending) as { verifier: string; state: string; returnTo: string })
        : undefined;
      if (params.has('error')) {
        this.problem = `Sign-in did not complete: ${params.get('error_description') ?? params.get('error')}.`;
      } else if (!saved || saved.state !== params.get('state')) {
        this.problem = 'Sign-in did not complete: the answer did not match this browser tab. Sign in again.';
      } else {
        returnTo = saved.returnTo;
        this.setTokens(
          await exchangeCode(this.endpoints, this.settings.auth, {
            clientId: this.settings.auth.clientId,
            code: params.get('code') ?? '',
            verifier: saved.verifier,
            redirectUri: this.redirectUri,
          }),
        );
      }
    } catch (error) {
      this.problem = (error as Error).message;
    }
    // The code is single-use; keep it out of the history and of any later Referer.
    history.replaceState(null, '', `/${returnTo.startsWith('#') ? returnTo : '#/'}`);
  }

  private setTokens(tokens: Tokens | undefined): void {
    this.tokens = tokens;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (tokens?.refreshToken) {
      const wait = Math.max(5_000, tokens.expiresAt - Date.now() - REFRESH_MARGIN_MS);
      this.timer = setTimeout(() => void this.refresh().catch(() => undefined), wait);
    }
    this.changed();
  }

  /** Silent refresh with the refresh token (one at a time); signs out when it is refused. */
  private refresh(): Promise<Tokens> {
    if (this.refreshing) return this.refreshing;
    const current = this.tokens;
    if (!current?.refreshToken) return Promise.reject(new SignedOut('Your session has ended. Sign in again.'));
    this.refreshing = refreshTokens(this.endpoints, this.settings.auth, {
      clientId: this.settings.auth.clientId,
      refreshToken: current.refreshToken,
    })
      .then((tokens) => {
        this.setTokens(tokens);
        return tokens;
      })
      .catch((error: Error) => {
        this.problem = `Your session has ended (${error.message}). Sign in again.`;
        this.setTokens(undefined);
        throw new SignedOut(this.problem);
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  /** The bearer for the API and the relay, refreshed first when it is about to expire. */
  async token(): Promise<string> {
    const tokens = this.tokens;
    if (!tokens) throw new SignedOut();
    if (tokens.expiresAt - Date.now() > REFRESH_MARGIN_MS) return tokens.bearer;
    if (tokens.refreshToken) return (await this.refresh()).bearer;
    if (tokens.expiresAt > Date.now()) return tokens.bearer;
    this.problem = 'Your session has ended. Sign in again.';
    this.setTokens(undefined);
    throw new SignedOut(this.problem);
  }

  /** Revokes the refresh token, forgets every token, then ends the provider's session if it has an endpoint. */
  async signOut(): Promise<void> {
    const tokens = this.tokens;
    this.problem = undefined;
    this.setTokens(undefined);
    if (tokens?.refreshToken)
      await revokeRefreshToken(this.endpoints, this.settings.auth.clientId, tokens.refreshToken);
    const url = signOutUrl(this.endpoints, this.settings.auth, this.redirectUri, tokens?.idToken);
    if (url) location.assign(url);
  }
}
