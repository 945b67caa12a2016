import { UserError } from '../config/errors';
import { CLOUDFORMATION_MAX_RESOURCES, CubicleConfig, UserConfig } from '../config/schema';
import { homeZones } from '../config/zones';
import { compare } from '../util/order';
import { vaultSecrets } from './vault-secrets';

/**
 * Which Fleet shard (stack) holds each user. A user's shard never changes once assigned: moving
 * would replace the user's key, secrets and access points. New users go to the least-full shard
 * that has room, or to a new shard.
 */

/** Shard of every user ever assigned (removed users keep their entry, so re-adding lands in place). */
export interface ShardLock {
  readonly users: Readonly<Record<string, number>>;
}

/** Resources a user brings into a shard, besides their agents: the vault's key and its alias. */
export const RESOURCES_PER_USER = 2;
/** A vault secret and its resource policy. */
export const RESOURCES_PER_SECRET = 2;
/** An agent's task role, task definition and EFS access point. */
export const RESOURCES_PER_AGENT = 3;

/** The shard's own resources: the file system and one mount target per availability zone. */
export function shardBaseResources(config: CubicleConfig): number {
  return 1 + homeZones(config).length;
}

/** Resources the Fleet stack creates for one user (tests check this against the synthesized templates). */
export function userResources(config: CubicleConfig, user: UserConfig): number {
  return (
    RESOURCES_PER_USER +
    RESOURCES_PER_SECRET * vaultSecrets(config, user).length +
    RESOURCES_PER_AGENT * user.agents.length
  );
}

export interface PlannedShard {
  readonly shard: number;
  /** Roster users in this shard, sorted by id. */
  readonly users: readonly UserConfig[];
  /** Resources of the shard's stack. */
  readonly resources: number;
}

export interface ShardPlan {
  /** The lock after assigning new users (sorted by user id). */
  readonly lock: ShardLock;
  /** Users assigned by this plan, sorted. Empty when the lock already covered the roster. */
  readonly added: readonly string[];
  /** Shards 1..N: every shard the lock mentions, even if no roster user is left in it (its file system stays). */
  readonly shards: readonly PlannedShard[];
  /** Shards above maxResourcesPerShard because assigned users grew (still under CloudFormation's limit). */
  readonly warnings: readonly string[];
}

/** A fleet problem the platform engineer fixes (printed as one line by `cdk synth`, see lib/config/errors.ts). */
export class FleetError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'FleetError';
  }
}

/** Assigns every roster user missing from the lock, in id order, so the result is independent of roster order. */
export function planShards(config: CubicleConfig, lock: ShardLock): ShardPlan {
  const max = config.fleet.maxResourcesPerShard;
  const base = shardBaseResources(config);
  const assigned: Record<string, number> = { ...lock.users };
  const roster = [...config.users].sort((a, b) => compare(a.id, b.id));
  const cost = new Map(roster.map((u) => [u.id, userResources(config, u)]));

  const load = new Map<number, number>();
  const shardCount = Math.max(0, ...Object.values(assigned));
  for (let shard = 1; shard <= shardCount; shard++) load.set(shard, base);
  for (const user of roster) {
    const shard = assigned[user.id];
    if (shard !== undefined) load.set(shard, load.get(shard)! + cost.get(user.id)!);
  }

  const added: string[] = [];
  for (const user of roster) {
    if (assigned[user.id] !== undefined) continue;
    const need = cost.get(user.id)!;
    if (base + need > max) {
      throw new FleetError(
        `user "${user.id}" needs ${need} resources (key, alias, ${RESOURCES_PER_SECRET} per secret, ${RESOURCES_PER_AGENT} per agent), ` +
          `more than fit in one shard (fleet.maxResourcesPerShard ${max} minus ${base} for the file system): give the user fewer agents or connections`,
      );
    }
    let best: number | undefined;
    for (const [shard, used] of load) {
      if (used + need <= max && (best === undefined || used < load.get(best)!)) best = shard;
    }
    if (best === undefined) {
      best = load.size + 1;
      load.set(best, base);
    }
    load.set(best, load.get(best)! + need);
    assigned[user.id] = best;
    added.push(user.id);
  }

  const warnings: string[] = [];
  const shards: PlannedShard[] = [...load.keys()]
    .sort((a, b) => a - b)
    .map((shard) => {
      const users = roster.filter((u) => assigned[u.id] === shard);
      const resources = load.get(shard)!;
      const who = users.map((u) => `${u.id} (${cost.get(u.id)})`).join(', ');
      if (resources > CLOUDFORMATION_MAX_RESOURCES) {
        throw new FleetError(
          `shard ${shard} would hold ${resources} resources, over CloudFormation's ${CLOUDFORMATION_MAX_RESOURCES} per stack, because its users gained agents or secrets: ${who}. ` +
            `Remove agents or connections from these users. Moving a user to another shard (editing the lock file) replaces their key, secrets and access points.`,
        );
      }
      if (resources > max) {
        warnings.push(
          `shard ${shard} holds ${resources} resources, above fleet.maxResourcesPerShard ${max} (its users grew: ${who}); new users go to other shards, so nothing to do ` +
            `unless these users keep growing: a shard stack cannot pass ${CLOUDFORMATION_MAX_RESOURCES}, so then give them fewer agents or connections`,
        );
      }
      return { shard, users, resources };
    });

  const sorted = Object.fromEntries(Object.entries(assigned).sort(([a], [b]) => compare(a, b)));
  return { lock: { users: sorted }, added, shards, warnings };
}
