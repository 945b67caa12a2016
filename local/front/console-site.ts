/**
 * The employee console at the root of local mode, as the distribution serves it from S3 in AWS: the
 * static build (made at every start into `<data>/console`, about 250 ms, so it is never stale), its
 * `config.json` pointing at the local issuer, and the console's strict Content-Security-Policy with the
 * edge's other security headers on every file. Anything else outside `/v1/` and `/local/` is the edge's
 * JSON 404.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildConsole } from '../../console/build';
import { consoleContentSecurityPolicy, type ConsoleSettings } from '../../console/settings';
import { LOCAL_CLIENT_ID } from '../identity/issuer';
import type { LocalRequest } from '../identity/routes';
import { EDGE_RESPONSE_HEADERS } from './server';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Files the build writes: the page and content-hashed assets (nothing else under the directory is served). */
/** As the distribution's viewer-request function (lib/constructs/edge-distribution.ts NOT_FOUND_FUNCTION_CODE). */
const SERVED = /^\/(?:index\.html|assets\/[A-Za-z0-9._-]+)?$/;

/**
 * The settings local mode serves: the API and relay on the console's own origin, the local issuer's
 * endpoints (authorization code + PKCE, refresh, revocation), one client id for the console and the CLI
 * (the audience the API accepts), and the scripts' token endpoint.
 */
export function localConsoleSettings(issuer: string): ConsoleSettings {
  return {
    version: 1,
    apiUrl: '',
    relayUrl: '',
    auth: {
      issuer,
      authorizationEndpoint: `${issuer}/authorize`,
      tokenEndpoint: `${issuer}/token`,
      revocationEndpoint: `${issuer}/revoke`,
      clientId: LOCAL_CLIENT_ID,
      cliClientId: LOCAL_CLIENT_ID,
      scopes: ['openid', 'email'],
      bearer: 'access_token',
      logoutStyle: 'oidc',
      localTokenEndpoint: `${issuer}/token`,
    },
  };
}

export interface ConsoleSite {
  /** Where the build is. */
  readonly dir: string;
  readonly csp: string;
  /** Answers `GET /`, `/config.json` and `/assets/*`; false for anything else. */
  serve(r: LocalRequest): boolean;
}

export function openConsoleSite(dir: string, issuer: string): ConsoleSite {
  buildConsole(dir);
  const settings = JSON.stringify(localConsoleSettings(issuer));
  // Everything is on this origin ('self' covers the API, the relay over ws: and the issuer).
  const csp = consoleContentSecurityPolicy();
  const headers = { ...EDGE_RESPONSE_HEADERS, 'content-security-policy': csp };
  return {
    dir,
    csp,
    serve(r) {
      const { req, res, url } = r;
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      if (url.pathname === '/config.json') {
        res.writeHead(200, {
          ...headers,
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'no-cache',
          'content-length': Buffer.byteLength(settings),
        });
        res.end(req.method === 'HEAD' ? undefined : settings);
        return true;
      }
      if (!SERVED.test(url.pathname)) return false;
      const page = url.pathname === '/' || url.pathname === '/index.html';
      const file = path.join(dir, page ? 'index.html' : url.pathname.slice(1));
      if (!existsSync(file)) return false;
      const body = readFileSync(file);
      // The page is re-read on every load; assets are content-hashed and never change under a name.
      const cache = page ? 'no-cache' : 'public, max-age=31536000, immutable';
      res.writeHead(200, {
        ...headers,
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'cache-control': cache,
        'content-length': body.length,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    },
  };
}
