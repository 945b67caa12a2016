import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { RosterDirectory } from '../../runtime/shared/function-contract';
import { limitsFromConfig } from '../../runtime/shared/budget';
import { CubicleConfig, PROVIDERS_WITH_SECRET } from '../config/schema';

/**
 * The roster directory the API functions bundle (runtime/control-plane/roster.ts): which verified identity
 * is which roster user, and that user's agents with the credentials they use. Derived from the config at
 * synth, so adding a user or agent redeploys the functions with the new directory.
 */
export function rosterDirectory(config: CubicleConfig): RosterDirectory {
  return {
    identity: config.identity.oidc ? { kind: 'oidc', claim: config.identity.oidc.userClaim } : { kind: 'cognito' },
    // Sorted by id: reordering the roster must not change the functions' code.
    users: [...config.users].sort(byId).map((user) => ({
      id: user.id,
      email: user.email.toLowerCase(),
      agents: [...user.agents].sort(byId).map((agent) => ({
        id: agent.id,
        provider: agent.provider,
        providerSecret: PROVIDERS_WITH_SECRET.includes(agent.provider),
        secretConnections: agent.connections.filter((name) => config.connections[name]?.secret === true).sort(),
        ...(agent.schedules.length > 0
          ? {
              schedules: [...agent.schedules]
                .sort(byId)
                .map((s) => ({ id: s.id, text: s.text, outbound: s.outbound, maxRunMinutes: s.maxRunMinutes })),
            }
          : {}),
        ...(config.budgets || user.budget?.stopped || agent.budget?.stopped
          ? { budget: limitsFromConfig(config.budgets, user, agent) }
          : {}),
      })),
    })),
  };
}

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Writes the directory to a content-addressed file outside the source tree; the bundling step copies it
 * next to each bundle as `roster.json`. (A file, not an esbuild `define`: a large roster would exceed the
 * 128 KB limit of one command-line argument.)
 */
export function writeRosterFile(directory: RosterDirectory): string {
  const text = JSON.stringify(directory);
  const dir = path.join(tmpdir(), 'cubicle-roster');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${createHash('sha256').update(text).digest('hex').slice(0, 32)}.json`);
  writeFileSync(file, text);
  return file;
}
