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

/** PascalCase construct-id fragment from an id: `bank-feed` → `BankFeed`. Stable, position-free. */
export function pascalId(id: string): string {
  return id
    .split('-')
    .filter((part) => part.length > 0)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
}
