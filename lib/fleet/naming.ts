import { createHash } from 'node:crypto';
import { constructIdOf } from '../../runtime/shared/ids';
import { taskFamily } from '../../runtime/shared/names';

/**
 * Names and construct ids of the fleet. Every one is a function of config ids only (never of list
 * positions), so reordering the roster changes no logical id and no physical name.
 */

/**
 * Construct ids of one vault secret and its resource policy: `Connection<Id>` and `Connection<Id>Policy`
 * (`Provider<Id>` for providers), as since the first release. A connection id ending in "-policy" would
 * take the id of another connection's policy (`x-policy`'s secret = `x`'s policy), so its two ids carry
 * a "_", which constructIdOf never produces: every id in a vault is distinct by construction.
 */
export function vaultSecretConstructIds(kind: 'provider' | 'connection', id: string): { secret: string; policy: string } {
  const secret = `${kind === 'provider' ? 'Provider' : 'Connection'}${constructIdOf(id)}${id.endsWith('-policy') ? '_' : ''}`;
  return { secret, policy: `${secret}Policy` };
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
