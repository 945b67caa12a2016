import { UserError } from '../config/errors';
import { CLOUDFORMATION_MAX_RESOURCES, CubicleConfig, UserConfig } from '../config/schema';
import { homeZones } from '../config/zones';
import { compare } from '../util/order';
import {
  CLOUDFORMATION_MAX_TEMPLATE_BYTES,
  SHARD_TEMPLATE_BYTES_BUDGET,
  shardBaseTemplateBytes,
  userTemplateBytes,
} from './template-bytes';
import { vaultSecrets } from './vault-secrets';

/**
 * Which Fleet shard (stack) holds each user. A user's shard never changes once assigned: moving
 * would replace the user's key, secrets and access points. New users go to the least-full shard
 * that has room, both in resources (fleet.maxResourcesPerShard) and in template bytes (an upper-bound
 * estimate within SHARD_TEMPLATE_BYTES_BUDGET, lib/fleet/template-bytes.ts), or to a new shard.
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
  /** Upper bound of the shard's template size (lib/fleet/template-bytes.ts). */
  readonly templateBytes: number;
}

export interface ShardPlan {
  /** The lock after assigning new users (sorted by user id). */
  readonly lock: ShardLock;
  /** Users assigned by this plan, sorted. Empty when the lock already covered the roster. */
  readonly added: readonly string[];
  /** Shards 1..N: every shard the lock mentions, even if no roster user is left in it (its file system stays). */
  readonly shards: readonly PlannedShard[];
  /** Shards above maxResourcesPerShard or the template budget because assigned users grew (still under CloudFormation's limits). */
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
  const base: Load = { resources: shardBaseResources(config), bytes: shardBaseTemplateBytes(config) };
  const assigned: Record<string, number> = { ...lock.users };
  const roster = [...config.users].sort((a, b) => compare(a.id, b.id));
  const cost = new Map<string, Load>(
    roster.map((u) => [u.id, { resources: userResources(config, u), bytes: userTemplateBytes(config, u) }]),
  );

  const load = new Map<number, Load>();
  const shardCount = Math.max(0, ...Object.values(assigned));
  for (let shard = 1; shard <= shardCount; shard++) load.set(shard, base);
  for (const user of roster) {
    const shard = assigned[user.id];
    if (shard !== undefined) load.set(shard, plus(load.get(shard)!, cost.get(user.id)!));
  }
  const fits = (used: Load, need: Load) =>
    used.resources + need.resources <= max && used.bytes + need.bytes <= SHARD_TEMPLATE_BYTES_BUDGET;

  const added: string[] = [];
  for (const user of roster) {
    if (assigned[user.id] !== undefined) continue;
    const need = cost.get(user.id)!;
    if (!fits(base, need)) {
      throw new FleetError(
        base.resources + need.resources > max
          ? `user "${user.id}" needs ${need.resources} resources (key, alias, ${RESOURCES_PER_SECRET} per secret, ${RESOURCES_PER_AGENT} per agent), ` +
              `more than fit in one shard (fleet.maxResourcesPerShard ${max} minus ${base.resources} for the file system): give the user fewer agents or connections`
          : `user "${user.id}" needs about ${kb(need.bytes)} of template, more than fit in one shard (${kb(SHARD_TEMPLATE_BYTES_BUDGET - base.bytes)}; ` +
              `CloudFormation refuses templates over ${kb(CLOUDFORMATION_MAX_TEMPLATE_BYTES)}): give the user fewer agents or connections`,
      );
    }
    let best: number | undefined;
    for (const [shard, used] of load) {
      if (fits(used, need) && (best === undefined || used.resources < load.get(best)!.resources)) best = shard;
    }
    if (best === undefined) {
      best = load.size + 1;
      load.set(best, base);
    }
    load.set(best, plus(load.get(best)!, need));
    assigned[user.id] = best;
    added.push(user.id);
  }

  const warnings: string[] = [];
  const shards: PlannedShard[] = [...load.keys()]
    .sort((a, b) => a - b)
    .map((shard) => {
      const users = roster.filter((u) => assigned[u.id] === shard);
      const { resources, bytes } = load.get(shard)!;
      const who = (what: (cost: Load) => string) => users.map((u) => `${u.id} (${what(cost.get(u.id)!)})`).join(', ');
      if (resources > CLOUDFORMATION_MAX_RESOURCES) {
        throw new FleetError(
          `shard ${shard} would hold ${resources} resources, over CloudFormation's ${CLOUDFORMATION_MAX_RESOURCES} per stack, because its users gained agents or secrets: ${who((c) => String(c.resources))}. ` +
            `Remove agents or connections from these users. Moving a user to another shard (editing the lock file) replaces their key, secrets and access points.`,
        );
      }
      if (resources > max) {
        warnings.push(
          `shard ${shard} holds ${resources} resources, above fleet.maxResourcesPerShard ${max} (its users grew: ${who((c) => String(c.resources))}); new users go to other shards, so nothing to do ` +
            `unless these users keep growing: a shard stack cannot pass ${CLOUDFORMATION_MAX_RESOURCES}, so then give them fewer agents or connections`,
        );
      } else if (bytes > SHARD_TEMPLATE_BYTES_BUDGET) {
        warnings.push(
          `shard ${shard}'s template may reach ${kb(bytes)}, above the ${kb(SHARD_TEMPLATE_BYTES_BUDGET)} planned for a shard (its users grew: ${who((c) => kb(c.bytes))}); new users go to other shards, so nothing to do ` +
            `unless these users keep growing: CloudFormation refuses a template over ${kb(CLOUDFORMATION_MAX_TEMPLATE_BYTES)}, so then give them fewer agents or connections`,
        );
      }
      return { shard, users, resources, templateBytes: bytes };
    });

  const sorted = Object.fromEntries(Object.entries(assigned).sort(([a], [b]) => compare(a, b)));
  return { lock: { users: sorted }, added, shards, warnings };
}

/** What a user takes from a shard, or what a shard holds. */
interface Load {
  readonly resources: number;
  /** Template bytes (estimate). */
  readonly bytes: number;
}

function plus(a: Load, b: Load): Load {
  return { resources: a.resources + b.resources, bytes: a.bytes + b.bytes };
}

function kb(bytes: number): string {
  return `${Math.ceil(bytes / 1000)} kB`;
}
