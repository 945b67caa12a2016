/**
 * Id rules shared by the config schema (synth time) and the runtimes, so a user or agent id that
 * passes the roster check is always valid in ARNs, EFS paths, task-definition families and table keys.
 */

/** User, agent and connection ids: a lowercase letter, then lowercase letters, digits or "-". */
export const ID_PATTERN = /^[a-z][a-z0-9-]*$/;
export const ID_MAX_LENGTH = 24;

/** The deployment name prefixes every stack name and physical-name-like string (task families). */
export const NAME_PATTERN = ID_PATTERN;
export const NAME_MAX_LENGTH = 16;

export const ID_RULE = `a lowercase letter, then lowercase letters, digits or "-", at most ${ID_MAX_LENGTH} characters`;
export const NAME_RULE = `a lowercase letter, then lowercase letters, digits or "-", at most ${NAME_MAX_LENGTH} characters`;

export function isValidId(value: string): boolean {
  return value.length <= ID_MAX_LENGTH && ID_PATTERN.test(value);
}

/**
 * The one construct-id fragment of an id (user, agent, connection, provider, availability zone):
 * `alice` → `Alice`, `bank-feed` → `BankFeed`, `qa-1` → `Qa-1`, `qa1` → `Qa1`.
 *
 * Injective by construction on lowercase ids (`[a-z][a-z0-9-]*`): the first letter is upper-cased,
 * "-" before a letter becomes that letter upper-cased, and every other character is kept. An upper-case
 * letter after the first position can therefore only stand for "-" + that letter, so
 * `idFromConstructId` recovers the id and no two ids share a construct id. (Dropping every "-", as a
 * plain PascalCase conversion does, makes `qa-1` and `qa1` collide.) Ids that contain no "-" before a
 * digit or another "-" and do not end in "-" get their plain PascalCase form, which keeps the logical
 * ids of existing stacks.
 */
export function constructIdOf(id: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(id)) throw new Error(`not a lowercase id: ${JSON.stringify(id)}`);
  return id[0].toUpperCase() + id.slice(1).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The inverse of `constructIdOf` (tests use it to show the encoding loses nothing). */
export function idFromConstructId(constructId: string): string {
  return constructId[0].toLowerCase() + constructId.slice(1).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
