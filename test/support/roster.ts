import { parseConfigText } from '../../lib/config/load';
import { CubicleConfig } from '../../lib/config/schema';
import { ACCOUNT } from './account';

/**
 * Generated rosters for fleet tests and the synth benchmark: deterministic, valid configs with a mix of
 * providers (with and without stored secrets), connections with and without secrets, agents of one user
 * sharing a provider secret, and ids with "-" and digits.
 */

export interface RosterOptions {
  readonly users: number;
  readonly agentsPerUser: number;
  /** fleet.maxResourcesPerShard; default: the schema's default. */
  readonly maxResourcesPerShard?: number;
  /** Extra user ids appended after the generated ones (each gets the same agent pattern). */
  readonly extraUserIds?: readonly string[];
  readonly name?: string;
  /** Employees sign in through an external OIDC issuer instead of a Cognito user pool of the roster. */
  readonly oidc?: boolean;
}

export const ROSTER_CONNECTIONS = {
  crm: { hosts: ['crm.acme.example', 'api.crm.acme.example'], secret: true },
  'bank-feed': { hosts: ['api.bank.example'], secret: true },
  docs: { hosts: ['docs.acme.example'], secret: false },
} as const;

const AGENT_PATTERNS = [
  { id: 'sales', provider: 'anthropic', connections: ['crm'], skills: ['crm-notes@1.2.0'] },
  { id: 'finance-1', provider: 'openai', connections: ['bank-feed', 'docs'] },
  { id: 'research', provider: 'bedrock', connections: ['docs'] },
  { id: 'writer', provider: 'anthropic', connections: [] },
  { id: 'scout2', provider: 'google', connections: ['crm', 'docs'] },
] as const;

/** User ids `u000`, `u001`, ... (sortable, unrelated to roster position once shuffled). */
export function rosterUserIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `u${String(i).padStart(3, '0')}`);
}

export interface RosterUser {
  id: string;
  email: string;
  agents: { id: string; provider: string; connections: string[]; skills: string[]; outbound: string }[];
}

/** The users of a roster as plain objects (edit, shuffle, then `rosterConfig`). */
export function rosterUsers(options: RosterOptions): RosterUser[] {
  const ids = [...rosterUserIds(options.users), ...(options.extraUserIds ?? [])];
  return ids.map((id, u) => ({
    id,
    email: `${id}@acme.example`,
    agents: Array.from({ length: options.agentsPerUser }, (_, a) => {
      const pattern = AGENT_PATTERNS[(u + a) % AGENT_PATTERNS.length];
      const round = Math.floor(a / AGENT_PATTERNS.length);
      return {
        id: round === 0 ? pattern.id : `${pattern.id}-${round}`,
        provider: pattern.provider,
        connections: [...pattern.connections],
        skills: [...('skills' in pattern ? pattern.skills : [])],
        outbound: ['confirm', 'allow', 'deny'][(u + a) % 3],
      };
    }),
  }));
}

/** A full config for the given users (same platform settings as the bundled example). */
export function rosterConfigText(
  users: readonly RosterUser[],
  options: Pick<RosterOptions, 'maxResourcesPerShard' | 'name' | 'oidc'> & {
    readonly connections?: Record<string, { hosts: readonly string[]; secret: boolean }>;
  } = {},
): string {
  const doc = {
    name: options.name ?? 'acme',
    account: ACCOUNT,
    region: 'eu-west-1',
    iamRoleBudget: 5000,
    ...(options.maxResourcesPerShard ? { fleet: { maxResourcesPerShard: options.maxResourcesPerShard } } : {}),
    ...(options.oidc ? { identity: { oidc: { issuer: 'https://login.acme.example', audience: 'cubicle' } } } : {}),
    github: { owner: 'acme', repo: 'cubicle-deploy' },
    providers: ['anthropic', 'openai', 'google', 'bedrock'],
    bedrock: { models: ['us.anthropic.claude-sonnet-4-5-20250929-v1:0'] },
    connections: options.connections ?? ROSTER_CONNECTIONS,
    users,
  };
  // JSON is YAML: the config loader parses it with every rule of a real file.
  return JSON.stringify(doc, null, 1);
}

export function rosterConfig(options: RosterOptions): CubicleConfig {
  return parseConfigText(rosterConfigText(rosterUsers(options), options), 'generated roster');
}

/** A deterministic shuffle (mulberry32), so a failing order can be reproduced. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
