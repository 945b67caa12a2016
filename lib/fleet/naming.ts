
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

// Role names are derived in runtime/shared/names.ts: the relay maps a task's role back to its pair with them.
export { agentRoleName, ROLE_NAME_MAX_LENGTH } from '../../runtime/shared/names';
