/**
 * Phase A's stand-in for local mode, for the browser and CLI tests: one loopback HTTP server with the
 * built console at `/` (the strict CSP on every page), its `config.json`, a sign-in issuer at `/local/...`
 * (authorization code + PKCE with a page listing the roster's users, and `POST /local/token {"user"}`),
 * the real API handlers at `/v1/...`, a relay at `/v1/relay` and a stand-in agent. Phase B replaces it with
 * `npm start` (issue 11) and keeps the tests.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { consoleContentSecurityPolicy, type ConsoleSettings } from '../../../console/settings';
import { readEvents } from '../../../runtime/shared/event-log';
import { applyTaskEvent } from '../../../runtime/control-plane/task-events';
import { getSession } from '../../../runtime/control-plane/lifecycle';
import { eventView } from '../../../runtime/control-plane/api';
import { API_ROUTES } from '../../../runtime/control-plane/routes';
import { STARTED_BY } from '../../../runtime/shared/names';
import { pairKey } from '../../../runtime/shared/tables';
import { CLUSTER_ARN, DIRECTORY, taskDefinitionArnOf } from '../../control-plane/support/fixtures';
import type { AgentEvent } from '../../../console/src/core/api';
import { issueToken, startTestApi, type TestApi } from './http-api';
import { TestRelay } from './relay-server';
import { StandInAgent } from './stand-in-agent';

export const CONSOLE_CLIENT_ID = 'cubicle-console';
export const CLI_CLIENT_ID = 'cubicle-cli';

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.json': 'application/json' };

export interface Harness {
  readonly origin: string;
  readonly api: TestApi;
  readonly relay: TestRelay;
  readonly agent: StandInAgent;
  readonly csp: string;
  readonly settings: ConsoleSettings;
  /** Codes issued by the sign-in page and whether their PKCE check passed at the token endpoint. */
  readonly pkce: Array<{ user: string; verified: boolean }>;
  /** Paths served, in order. */
  readonly served: string[];
  close(): Promise<void>;
}

export async function startHarness(options: { consoleDir?: string; approvalMs?: number } = {}): Promise<Harness> {
  const codes = new Map<string, { user: string; challenge: string; redirectUri: string; clientId: string }>();
  const refresh = new Map<string, string>();
  const pkce: Array<{ user: string; verified: boolean }> = [];
  const served: string[] = [];
  let relay!: TestRelay;
  let agent!: StandInAgent;
  const api = await startTestApi(({ routeKey, user, params, body, result }) => {
    if (routeKey === API_ROUTES.postMessage && result.statusCode === 202) {
      const { messageId } = JSON.parse(result.body as string) as { messageId: string };
      void markRunning(user, params.agentId).then(() => agent.receive(user, params.agentId, messageId, (JSON.parse(body) as { text: string }).text, 'req-msg'));
    }
    if (routeKey === API_ROUTES.wake && (result.statusCode === 202 || result.statusCode === 200)) void markRunning(user, params.agentId);
  });
  const markRunning = async (user: string, agentId: string) => {
    const session = await getSession(api.deps.lifecycle, pairKey(user, agentId));
    if (session?.taskArn && session.status === 'STARTING') {
      await applyTaskEvent(api.deps.lifecycle, { taskArn: session.taskArn, clusterArn: CLUSTER_ARN, lastStatus: 'RUNNING', startedBy: STARTED_BY, taskDefinitionArn: taskDefinitionArnOf(user, agentId) });
    }
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void route(req, res, Buffer.concat(chunks).toString('utf8')).catch((error: Error) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(error.message);
    }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const settings: ConsoleSettings = {
    version: 1,
    apiUrl: '',
    relayUrl: '',
    auth: {
      authorizationEndpoint: `${origin}/local/authorize`,
      tokenEndpoint: `${origin}/local/token`,
      clientId: CONSOLE_CLIENT_ID,
      cliClientId: CLI_CLIENT_ID,
      scopes: ['openid'],
      bearer: 'access_token',
      logoutStyle: 'oidc',
      localTokenEndpoint: `${origin}/local/token`,
    },
  };
  const csp = consoleContentSecurityPolicy();
  // The relay checks bearers as the API does; the test relay asks synchronously, so tokens are
  // remembered when issued (only this issuer's tokens exist here).
  const valid = new Map<string, string>();
  const issue = async (user: string) => {
    const token = await issueToken(user);
    valid.set(token, user);
    return token;
  };
  relay = await TestRelay.start(
    {
      authenticate: (token) => valid.get(token),
      events: async (user, agentId, after) => {
        if (!DIRECTORY.users.find((u) => u.id === user)?.agents.some((a) => a.id === agentId)) return undefined;
        const rows = await readEvents(api.dynamo.doc, api.dynamo.tables.events, pairKey(user, agentId));
        return rows.filter((r) => r.sk > after).map((r) => eventView(r) as AgentEvent);
      },
    },
    server,
  );
  agent = new StandInAgent(api.dynamo, (user, agentId, event) => relay.publish(user, agentId, event), options.approvalMs);

  async function route(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    served.push(url.pathname);
    if (await api.handle(req, res, body)) return;
    if (url.pathname === '/config.json') return sendJson(res, 200, settings);
    if (url.pathname === '/local/authorize') return signInPage(res, url);
    if (url.pathname === '/local/authorize/continue') {
      const user = url.searchParams.get('user') ?? '';
      const code = randomBytes(16).toString('hex');
      codes.set(code, { user, challenge: url.searchParams.get('code_challenge') ?? '', redirectUri: url.searchParams.get('redirect_uri') ?? '', clientId: url.searchParams.get('client_id') ?? '' });
      const back = new URL(url.searchParams.get('redirect_uri') ?? '/', origin);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.toString() });
      return void res.end();
    }
    if (url.pathname === '/local/token' && req.method === 'POST') {
      if ((req.headers['content-type'] ?? '').startsWith('application/json')) {
        const { user } = JSON.parse(body) as { user: string };
        if (!DIRECTORY.users.some((u) => u.id === user)) return sendJson(res, 404, { message: `no user ${user}` });
        return sendJson(res, 200, { token: await issue(user) });
      }
      const form = new URLSearchParams(body);
      if (form.get('grant_type') === 'refresh_token') {
        const user = refresh.get(form.get('refresh_token') ?? '');
        if (!user) return sendJson(res, 400, { error: 'invalid_grant' });
        return sendJson(res, 200, { access_token: await issue(user), token_type: 'Bearer', expires_in: 3600 });
      }
      const grant = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const verified = !!grant && createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url') === grant.challenge;
      if (grant) pkce.push({ user: grant.user, verified });
      if (!grant || !verified || grant.redirectUri !== form.get('redirect_uri') || grant.clientId !== form.get('client_id')) return sendJson(res, 400, { error: 'invalid_grant' });
      const refreshToken = randomBytes(16).toString('hex');
      refresh.set(refreshToken, grant.user);
      return sendJson(res, 200, { access_token: await issue(grant.user), refresh_token: refreshToken, token_type: 'Bearer', expires_in: 3600 });
    }
    if (url.pathname === '/injected.html' && options.consoleDir) {
      // The console's page as an attacker who got markup into it would serve it: an inline script and style.
      const html = readFileSync(path.join(options.consoleDir, 'index.html'), 'utf8').replace(
        '</head>',
        '<script>window.__injected = true</script><style>body { background: red }</style></head>',
      );
      res.writeHead(200, { 'content-type': TYPES['.html'], 'content-security-policy': csp });
      return void res.end(html);
    }
    return serveConsole(res, url.pathname);
  }

  function serveConsole(res: ServerResponse, pathname: string): void {
    const dir = options.consoleDir;
    const file = pathname === '/' ? 'index.html' : pathname.slice(1);
    const full = dir ? path.join(dir, file) : '';
    if (!dir || file.includes('..') || !existsSync(full) || !/^(index\.html|assets\/[\w.-]+)$/.test(file)) {
      res.writeHead(404, { 'content-type': 'application/json', 'content-security-policy': csp });
      return void res.end('{"message":"Not found"}');
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'content-security-policy': csp, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' });
    res.end(readFileSync(full));
  }

  function signInPage(res: ServerResponse, url: URL): void {
    const links = DIRECTORY.users
      .map((u) => {
        const next = new URL('/local/authorize/continue', origin);
        for (const [k, v] of url.searchParams) next.searchParams.set(k, v);
        next.searchParams.set('user', u.id);
        return `<li><a href="${next.pathname}${next.search.replace(/&/g, '&amp;')}">${u.id}</a></li>`;
      })
      .join('');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'" });
    res.end(`<!doctype html><title>Sign in (test issuer)</title><h1>Sign in as</h1><ul>${links}</ul>`);
  }

  return {
    origin,
    api,
    relay,
    agent,
    csp,
    settings,
    pkce,
    served,
    async close() {
      await relay.close();
      agent.stop();
      await agent.settled();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await api.close();
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
