import { constructIdOf } from '../../runtime/shared/ids';

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
export function vaultSecretConstructIds(
  kind: 'provider' | 'connection',
  id: string,
): { secret: string; policy: string } {
  const secret = `${kind === 'provider' ? 'Provider' : 'Connection'}${constructIdOf(id)}${id.endsWith('-policy') ? '_' : ''}`;
  return { secret, policy: `${secret}Policy` };
}

/** `<name>-Fleet-01`: shard numbers start at 1 and keep at least two digits so stack names sort. */
export function fleetStackName(deployment: string, shard: number): string {
  return `${deployment}-Fleet-${String(shard).padStart(2, '0')}`;
}

// Role names are derived in runtime/shared/names.ts: the relay maps a task's role back to its pair with them.
export { agentRoleName, ROLE_NAME_MAX_LENGTH } from '../../runtime/shared/names';
