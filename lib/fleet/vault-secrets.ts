import { connectionSecretName, providerSecretName } from '../../runtime/shared/names';
import { CubicleConfig, PROVIDERS_WITH_SECRET, UserConfig } from '../config/schema';
import { compare } from '../util/order';

/** One secret of a user's vault and the user's agents that may read it. */
export interface VaultSecretSpec {
  readonly kind: 'provider' | 'connection';
  /** Provider or connection id. */
  readonly id: string;
  /** Secrets Manager name (runtime/shared/names.ts). */
  readonly name: string;
  /** Agents of this user that read it, sorted. */
  readonly agentIds: readonly string[];
}

/**
 * The secrets of one user: one per provider with a stored credential that any of the user's agents
 * uses, and one per connection with `secret: true` that any of the user's agents lists. Sorted by
 * name, so the vault does not depend on the order of agents or connections in the roster.
 */
export function vaultSecrets(config: CubicleConfig, user: UserConfig): VaultSecretSpec[] {
  const readers = new Map<string, { kind: VaultSecretSpec['kind']; id: string; agents: Set<string> }>();
  const add = (kind: VaultSecretSpec['kind'], id: string, name: string, agentId: string) => {
    const entry = readers.get(name) ?? { kind, id, agents: new Set<string>() };
    entry.agents.add(agentId);
    readers.set(name, entry);
  };
  for (const agent of user.agents) {
    if (PROVIDERS_WITH_SECRET.includes(agent.provider)) {
      add('provider', agent.provider, providerSecretName(config.name, user.id, agent.provider), agent.id);
    }
    for (const connection of agent.connections) {
      if (config.connections[connection]?.secret) {
        add('connection', connection, connectionSecretName(config.name, user.id, connection), agent.id);
      }
    }
  }
  return [...readers.entries()]
    .sort(([a], [b]) => compare(a, b))
    .map(([name, { kind, id, agents }]) => ({ kind, id, name, agentIds: [...agents].sort(compare) }));
}
