/**
 * Policy documents of the fleet's per-pair and per-user resources, written as the JSON that lands in the
 * template. Thousands of cells each resolve their policies at synth; plain objects skip the merging and
 * sorting passes of iam.PolicyDocument (a third of a large shard's synth time) and read as what they are.
 * Actions are sorted and single values unwrapped, as iam.PolicyDocument renders them.
 */

export type Conditions = Record<string, Record<string, unknown>>;

export interface StatementJson {
  readonly Sid: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal?: { readonly AWS?: string; readonly Service?: string };
  readonly Action: string | string[];
  readonly Resource?: string | string[];
  readonly Condition?: Conditions;
}

export interface PolicyJson {
  readonly Version: '2012-10-17';
  readonly Statement: StatementJson[];
}

export function policy(...statements: StatementJson[]): PolicyJson {
  return { Version: '2012-10-17', Statement: statements };
}

export function allow(
  sid: string,
  actions: readonly string[],
  resources: readonly string[],
  condition?: Conditions,
): StatementJson {
  return {
    Sid: sid,
    Effect: 'Allow',
    Action: one([...actions].sort()),
    Resource: one([...resources]),
    ...(condition ? { Condition: condition } : {}),
  };
}

/** A resource-policy statement denying every principal (no Resource element: the resource itself). */
export function denyEveryone(
  sid: string,
  actions: readonly string[],
  condition?: Conditions,
  resource?: string,
): StatementJson {
  return {
    Sid: sid,
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Action: one([...actions].sort()),
    ...(resource ? { Resource: resource } : {}),
    ...(condition ? { Condition: condition } : {}),
  };
}

function one(values: string[]): string | string[] {
  return values.length === 1 ? values[0] : values;
}
