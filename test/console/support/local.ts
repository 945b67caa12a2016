/**
 * Local mode (issue 11) for the console's browser tests and the CLI's tests: the whole platform in this
 * process on a free loopback port with the bundled example roster, the real supervisor per agent with the
 * stand-in provider CLI (`echo: <text>`, `fetch https://<host>/x` → an approval → `fetched <host>`), and a
 * fresh data directory removed at the end. What the tests read besides the page and the CLI's output: the
 * secrets in the local vault (encrypted at rest; opened here as the credential writer's reads would be).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LocalVault } from '../../../local/vault/vault';
import { startLocal, type LocalPlatform } from '../../../local/platform';
import { consoleContentSecurityPolicy } from '../../../console/settings';
import { exampleConfig } from '../../support/example-config';

export interface LocalConsole {
  /** `http://127.0.0.1:<port>`: the console at `/`, the API at `/v1/`, the relay at `/v1/relay`, the issuer at `/local/`. */
  readonly origin: string;
  readonly platform: LocalPlatform;
  readonly dataDir: string;
  /** The Content-Security-Policy the console is served with. */
  readonly csp: string;
  /** A vault secret's current value, decrypted with its user's local key. */
  secret(name: string): string;
  close(): Promise<void>;
}

/** With the bundled example roster, or `config` (e.g. the example with budgets). */
export async function startLocalConsole(config = exampleConfig()): Promise<LocalConsole> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cubicle-console-local-'));
  const platform = await startLocal({ config, dataDir, port: 0, realProviders: false, verbose: false });
  return {
    origin: platform.url,
    platform,
    dataDir,
    csp: consoleContentSecurityPolicy(),
    // A second view of the same files: the vault keeps nothing in memory that is not on disk.
    secret: (name) => new LocalVault(path.join(dataDir, 'vault'), config).secrets.get(name).value,
    close: async () => {
      await platform.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
