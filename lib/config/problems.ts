import type { core, z } from 'zod';
import { didYouMean } from './suggest';

/**
 * How a config problem is told to a person: where (by position and by the id of each list item on the
 * way, `users[5] (dana).agents[0] (sales).outbound`) and what to change.
 */

export interface ConfigProblem {
  /** Where in the file, e.g. `users[2] (chen).agents[0] (ops).connections[1]`; empty for the whole file. */
  readonly path: string;
  readonly message: string;
}

/** A problem found by a check, located by path segments in the parsed file. */
export interface LocatedProblem {
  readonly at: readonly PropertyKey[];
  readonly message: string;
}

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `users[5] (dana).email`: list positions, each followed by the item's id when it has one. */
export function describePath(raw: unknown, segments: readonly PropertyKey[]): string {
  let node: unknown = raw;
  let out = '';
  segments.forEach((segment, i) => {
    if (typeof segment === 'number') {
      node = Array.isArray(node) ? node[segment] : undefined;
      out += `[${segment}]`;
      const id = isObject(node) ? node.id : undefined;
      if (typeof id === 'string' && id.length > 0)
        out += ` (${/^[\w.@-]{1,40}$/.test(id) ? id : JSON.stringify(id.slice(0, 40))})`;
    } else {
      node = isObject(node) ? node[segment as string] : undefined;
      out += i === 0 ? String(segment) : `.${String(segment)}`;
    }
  });
  return out;
}

/** The problems of one zod issue (an issue naming several unknown keys gives one problem per key). */
export function issueProblems(issue: core.$ZodIssue, schema: z.ZodType): LocatedProblem[] {
  const at = issue.path;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeys(schemaAt(schema, at));
      return issue.keys.map((key) => {
        const hint = didYouMean(key, known);
        return {
          at,
          message: `unknown key "${key}"${hint || (known.length ? `: remove it (allowed here: ${known.join(', ')})` : ': remove it')}`,
        };
      });
    }
    case 'invalid_type':
      return [{ at, message: typeMessage(issue, schemaAt(schema, at)) }];
    case 'invalid_value': {
      const got = `got ${describe(issue.input)}`;
      const hint = typeof issue.input === 'string' ? didYouMean(issue.input, issue.values.map(String)) : '';
      const message = issue.message.startsWith('Invalid')
        ? `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, ${got}`
        : `${issue.message}, ${got}`;
      return [{ at, message: message + hint }];
    }
    case 'invalid_format':
    case 'too_big':
    case 'too_small':
      // The rule, then what the file says, so the mistake is visible in the line itself.
      return [
        {
          at,
          message:
            typeof issue.input === 'string' ? `${issue.message}, got ${JSON.stringify(issue.input)}` : issue.message,
        },
      ];
    default:
      return [{ at, message: issue.message }];
  }
}

function typeMessage(issue: core.$ZodIssueInvalidType, here: z.ZodType | undefined): string {
  if (issue.input === undefined) return 'is required';
  if (issue.input === null) {
    // `agents:` with nothing after it: say what an empty value of the right type would lack.
    if (issue.expected === 'array' && here) {
      const empty = here.safeParse([]);
      if (!empty.success) return empty.error.issues[0].message;
      return 'is empty: list the values, or remove the key';
    }
    if (issue.expected === 'object') return 'is empty: give its settings, or remove the key to use the defaults';
    return `is empty: give ${article(issue.expected)}`;
  }
  return (
    `must be ${article(issue.expected)}, got ${describe(issue.input)}` +
    (issue.expected === 'string' && typeof issue.input === 'number' ? ' (put it in quotes)' : '')
  );
}

/** The sub-schema at a path of the input, past defaults and optionals (a transform's input side kept). */
export function schemaAt(schema: z.ZodType, segments: readonly PropertyKey[]): z.ZodType | undefined {
  let here: z.ZodType | undefined = unwrap(schema, false);
  for (const segment of segments) {
    if (!here) return undefined;
    const def = unwrap(here, true)._zod.def as unknown as Record<string, unknown> & { type: string };
    let next: unknown;
    if (def.type === 'object') next = (def.shape as Record<string, z.ZodType>)[String(segment)];
    else if (def.type === 'array') next = def.element;
    else if (def.type === 'record') next = def.valueType;
    else if (def.type === 'tuple') next = (def.items as z.ZodType[])[Number(segment)];
    here = next ? unwrap(next as z.ZodType, false) : undefined;
  }
  return here;
}

/** Past defaults and optionals; with `throughTransforms`, also to the input side of a transform. */
function unwrap(schema: z.ZodType, throughTransforms: boolean): z.ZodType {
  let here = schema;
  for (;;) {
    const def = here._zod.def as unknown as Record<string, unknown> & { type: string };
    if (['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch'].includes(def.type))
      here = def.innerType as z.ZodType;
    else if (def.type === 'pipe' && throughTransforms) here = def.in as z.ZodType;
    else return here;
  }
}

function knownKeys(schema: z.ZodType | undefined): string[] {
  const def = (schema && unwrap(schema, true))?._zod.def as unknown as
    { type: string; shape?: Record<string, unknown> } | undefined;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape).filter((k) => k !== '$schema') : [];
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

export function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}
