/**
 * The CLI's sign-in state: the deployment's settings and the tokens, in one file only the user can read
 * (`~/.config/cubicle/session.json`, mode 0600 in a 0700 directory). Scripts can instead pass a token
 * in CUBICLE_TOKEN with CUBICLE_URL. The bearer is refreshed a minute before it expires.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { parseSettings, type ConsoleSettings } from '../console/settings';
import { endpointsOf, refreshTokens, type Tokens } from '../console/src/core/oauth';
import { CliError, EXIT } from './errors';

export interface SavedSession {
  readonly url: string;
  readonly settings: ConsoleSettings;
  readonly tokens: Tokens;
}

export function configDir(env: NodeJS.ProcessEnv): string {
  if (env.CUBICLE_CONFIG_DIR) return env.CUBICLE_CONFIG_DIR;
  return path.join(env.XDG_CONFIG_HOME || path.join(homedir(), '.config'), 'cubicle');
}

export function sessionFile(env: NodeJS.ProcessEnv): string {
  return path.join(configDir(env), 'session.json');
}

export function saveSession(env: NodeJS.ProcessEnv, session: SavedSession): void {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = sessionFile(env);
  writeFileSync(file, JSON.stringify(session, null, 2), { mode: 0o600 });
  chmodSync(file, 0o600);
}

export function readSession(env: NodeJS.ProcessEnv): SavedSession | undefined {
  const file = sessionFile(env);
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as SavedSession;
    return { ...parsed, settings: parseSettings(parsed.settings) };
  } catch (error) {
    throw new CliError(`${file} is damaged (${(error as Error).message}); run "cubicle login" again.`, EXIT.auth);
  }
}

export function forgetSession(env: NodeJS.ProcessEnv): boolean {
  const file = sessionFile(env);
  if (!existsSync(file)) return false;
  rmSync(file);
  return true;
}

/** The deployment's settings from its console's config.json. */
export async function fetchSettings(url: string, fetcher: typeof fetch = fetch): Promise<ConsoleSettings> {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new CliError(
      `"${url}" is not a URL; give the console's address, e.g. https://d1234.cloudfront.net`,
      EXIT.usage,
    );
  }
  let response: Response;
  try {
    response = await fetcher(new URL('/config.json', base).toString(), { headers: { accept: 'application/json' } });
  } catch {
    throw new CliError(`Cannot reach ${base.origin}.`, EXIT.failure);
  }
  if (!response.ok)
    throw new CliError(
      `${base.origin} has no Cubicle console (config.json answered ${response.status}).`,
      EXIT.failure,
    );
  try {
    return parseSettings(await response.json());
  } catch (error) {
    throw new CliError((error as Error).message, EXIT.failure);
  }
}

/** Where the CLI talks to, and how it gets a bearer. */
export interface Connection {
  readonly origin: string;
  readonly settings: ConsoleSettings;
  token(): Promise<string>;
}

export async function connect(env: NodeJS.ProcessEnv, fetcher: typeof fetch = fetch): Promise<Connection> {
  if (env.CUBICLE_TOKEN) {
    if (!env.CUBICLE_URL)
      throw new CliError("CUBICLE_TOKEN needs CUBICLE_URL (the console's address) too.", EXIT.usage);
    const settings = await fetchSettings(env.CUBICLE_URL, fetcher);
    const token = env.CUBICLE_TOKEN;
    return { origin: new URL(env.CUBICLE_URL).origin, settings, token: async () => token };
  }
  const saved = readSession(env);
  if (!saved) throw new CliError('You are not signed in: run "cubicle login --url <console address>".', EXIT.auth);
  let tokens = saved.tokens;
  return {
    origin: new URL(saved.url).origin,
    settings: saved.settings,
    async token() {
      if (tokens.expiresAt - Date.now() > 60_000) return tokens.bearer;
      if (!tokens.refreshToken) {
        if (tokens.expiresAt > Date.now()) return tokens.bearer;
        throw new CliError('Your sign-in has expired: run "cubicle login" again.', EXIT.auth);
      }
      try {
        tokens = await refreshTokens(
          await endpointsOf(saved.settings.auth, fetcher),
          saved.settings.auth,
          { clientId: saved.settings.auth.cliClientId, refreshToken: tokens.refreshToken },
          fetcher,
        );
      } catch {
        throw new CliError('Your sign-in has expired: run "cubicle login" again.', EXIT.auth);
      }
      saveSession(env, { ...saved, tokens });
      return tokens.bearer;
    },
  };
}
