import { createHash } from 'node:crypto';
import { taskFamily } from '../../runtime/shared/names';

/**
 * Names and construct ids of the fleet. Every one is a function of config ids only (never of list
 * positions), so reordering the roster changes no logical id and no physical name.
 */

/**
 * Construct id fragment of a user or agent id: `bank-feed` → `BankFeed`, `bob-1` → `Bob-1`.
 * Injective, unlike a plain PascalCase conversion (`bob1` and `bob-1` must not share a logical id):
 * ids are lowercase, so an upper-case letter can only stand for "-" + that letter; any other "-" stays.
 */
export function stableConstructId(id: string): string {
  return id.replace(/^[a-z]/, (c) => c.toUpperCase()).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** `<name>-Fleet-01`: shard numbers start at 1 and keep at least two digits so stack names sort. */
export function fleetStackName(deployment: string, shard: number): string {
  return `${deployment}-Fleet-${String(shard).padStart(2, '0')}`;
}

/** IAM caps role names at 64 characters. */
export const ROLE_NAME_MAX_LENGTH = 64;

/**
 * Name of a pair's task role: the pair's task family (`<name>-<user>_<agent>`), so a role in the
 * console, CloudTrail or a key policy reads as the pair it serves. The name is fixed (not generated)
 * so the user's key policy and secret policies can name the role's ARN without a CloudFormation
 * reference to it. A family longer than 64 characters keeps its first 55 and a hash of the whole.
 */
export function agentRoleName(deployment: string, userId: string, agentId: string): string {
  const family = taskFamily(deployment, userId, agentId);
  if (family.length <= ROLE_NAME_MAX_LENGTH) return family;
  const digest = createHash('sha256').update(family).digest('hex').slice(0, 8);
  return `${family.slice(0, ROLE_NAME_MAX_LENGTH - digest.length - 1)}-${digest}`;
}
