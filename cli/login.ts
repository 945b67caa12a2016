/**
 * `cubicle login`: authorization code + PKCE with a loopback redirect (RFC 8252) to
 * http://localhost:53682/callback, the address registered with the identity provider; or, against local
 * mode, its token endpoint for a named user (`--user`).
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { CLI_REDIRECT_PORT, CLI_REDIRECT_URI, type ConsoleSettings } from '../console/settings';
import { authorizeUrl, endpointsOf, exchangeCode, jwtClaims, tokensFrom, type Tokens } from '../console/src/core/oauth';
import { startPkce } from '../console/src/core/pkce';
import { CliError, EXIT } from './errors';

const LOGIN_TIMEOUT_MS = 5 * 60_000;

export async function localSignIn(
  settings: ConsoleSettings,
  user: string,
  fetcher: typeof fetch = fetch,
): Promise<Tokens> {
  const endpoint = settings.auth.localTokenEndpoint;
  if (!endpoint) throw new CliError('--user works only against local mode; sign in without it.', EXIT.usage);
  const response = await fetcher(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user }),
  });
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok)
    throw new CliError(
      `Local sign-in refused for "${user}": ${typeof body.message === 'string' ? body.message : `status ${response.status}`}.`,
      EXIT.auth,
    );
  return tokensFrom(body, settings.auth.bearer, Date.now());
}

export interface BrowserSignIn {
  /** Called with the address to open; the CLI prints it (and opens a browser unless told not to). */
  readonly show: (url: string) => void;
  readonly timeoutMs?: number;
  readonly fetcher?: typeof fetch;
}

export async function browserSignIn(settings: ConsoleSettings, options: BrowserSignIn): Promise<Tokens> {
  const endpoints = await endpointsOf(settings.auth, options.fetcher);
  const { verifier, challenge, state } = await startPkce();
  const code = await new Promise<string>((resolve, reject) => {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', CLI_REDIRECT_URI);
      if (url.pathname !== '/callback') {
        res.writeHead(404).end();
        return;
      }
      const ok = url.searchParams.get('state') === state && url.searchParams.has('code');
      res.writeHead(ok ? 200 : 400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(
        ok ? 'Signed in to Cubicle. You can close this tab.' : 'Sign-in did not complete. Run "cubicle login" again.',
      );
      finish(() =>
        ok
          ? resolve(url.searchParams.get('code') as string)
          : reject(
              new CliError(
                `Sign-in did not complete${url.searchParams.get('error') ? `: ${url.searchParams.get('error')}` : ''}.`,
                EXIT.auth,
              ),
            ),
      );
    });
    const timer = setTimeout(
      () => finish(() => reject(new CliError('Sign-in timed out after 5 minutes.', EXIT.auth))),
      options.timeoutMs ?? LOGIN_TIMEOUT_MS,
    );
    const finish = (then: () => void) => {
      clearTimeout(timer);
      server.close();
      server.closeAllConnections();
      then();
    };
    server.once('error', (error: NodeJS.ErrnoException) =>
      finish(() =>
        reject(
          new CliError(
            error.code === 'EADDRINUSE'
              ? `Port ${CLI_REDIRECT_PORT} is busy: another "cubicle login" may be running.`
              : error.message,
            EXIT.failure,
          ),
        ),
      ),
    );
    server.listen(CLI_REDIRECT_PORT, '127.0.0.1', () =>
      options.show(
        authorizeUrl(endpoints, {
          clientId: settings.auth.cliClientId,
          redirectUri: CLI_REDIRECT_URI,
          scopes: settings.auth.scopes,
          state,
          challenge,
        }),
      ),
    );
  });
  return exchangeCode(
    endpoints,
    settings.auth,
    { clientId: settings.auth.cliClientId, code, verifier, redirectUri: CLI_REDIRECT_URI },
    options.fetcher,
  );
}

/** Opens a URL in the desktop's browser, if there is one; no shell is involved. */
export function openBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(command, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // the printed address is enough
  }
}

export function whoIs(tokens: Tokens): string {
  const claims = { ...jwtClaims(tokens.idToken ?? ''), ...jwtClaims(tokens.bearer) };
  for (const key of ['username', 'cognito:username', 'email', 'sub'])
    if (typeof claims[key] === 'string') return claims[key] as string;
  return 'you';
}
