/**
 * The rules a function's environment is checked with at cold start (env.ts, relay/env.ts, the token and
 * origin settings). A handful of string rules, checked by hand rather than with zod/mini: the schemas and
 * the library cost each cold start ~8 ms, a sixth of a bare `node` start (issue 15), and these rules are
 * only patterns, lists and numbers. Request bodies are still checked with zod/mini (http.ts), on the
 * call that needs it.
 *
 * A problem names the variable and the rule, never the value (env.ts parseEnv).
 */

/** One variable's rule: the value it yields, or why the text is wrong. */
export type Rule<T> = (text: string | undefined) => { readonly value: T } | { readonly problem: string };

/** A function's variables and their rules; `shape` as zod calls it, so callers can list the names. */
export interface EnvSchema<S extends Readonly<Record<string, Rule<unknown>>>> {
  readonly shape: S;
}

export type EnvOf<E extends EnvSchema<Readonly<Record<string, Rule<unknown>>>>> = {
  -readonly [K in keyof E['shape']]: E['shape'][K] extends Rule<infer T> ? T : never;
};

export function envSchema<S extends Readonly<Record<string, Rule<unknown>>>>(shape: S): EnvSchema<S> {
  return { shape };
}

const NOT_SET = { problem: 'is not set' } as const;

/** A required value that matches `pattern`; `rule` says what it must be ("must be a DynamoDB table name"). */
export const matching =
  (pattern: RegExp, rule: string): Rule<string> =>
  (text) =>
    text === undefined ? NOT_SET : pattern.test(text) ? { value: text } : { problem: rule };

/** Absent is fine; present, it must pass `rule` (an empty value is present). */
export const optional =
  <T>(rule: Rule<T>): Rule<T | undefined> =>
  (text) =>
    text === undefined ? { value: undefined } : rule(text);

export const oneOf =
  <T extends string>(values: readonly T[]): Rule<T> =>
  (text) =>
    text === undefined
      ? NOT_SET
      : (values as readonly string[]).includes(text)
        ? { value: text as T }
        : { problem: `must be one of ${values.join(', ')}` };

/** Whole, positive milliseconds. */
export const positiveMs: Rule<number> = (text) => {
  if (text === undefined) return NOT_SET;
  const value = text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isInteger(value)) return { problem: 'must be whole milliseconds' };
  return value > 0 ? { value } : { problem: 'must be positive' };
};

/** A comma-separated list, each part (trimmed) matching `pattern`; `what` names one part ("subnet id"). */
export const csv =
  (pattern: RegExp, what: string): Rule<string[]> =>
  (text) => {
    if (text === undefined) return NOT_SET;
    if (text.length === 0) return { problem: `must list at least one ${what}` };
    const parts = text.split(',').map((part) => part.trim());
    return parts.every((part) => pattern.test(part))
      ? { value: parts }
      : { problem: `must be comma-separated ${what}s` };
  };

/**
 * Checks every variable of `schema` in `env`; returns their values (only those: others are not copied), or
 * the problems of every variable at once.
 */
export function checkEnv<E extends EnvSchema<Readonly<Record<string, Rule<unknown>>>>>(
  schema: E,
  env: Readonly<Record<string, string | undefined>>,
): { ok: true; value: EnvOf<E> } | { ok: false; problems: string[] } {
  const value: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, rule] of Object.entries(schema.shape)) {
    const result = rule(env[name]);
    if ('problem' in result) problems.push(`${name} ${result.problem}`);
    else if (result.value !== undefined) value[name] = result.value;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: value as EnvOf<E> };
}
