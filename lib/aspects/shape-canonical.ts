import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { compare } from '../util/order';

/** Text and template helpers of the resource-shape index (resource-shapes.ts). */

type Json = unknown;

/** Replaces every occurrence of each `from` by its `to`, longest `from` first, in one pass. */
export function substitution(pairs: readonly [string, string][]): (text: string) => string {
  const map = new Map(pairs.filter(([from]) => from.length > 0));
  if (map.size === 0) return (text) => text;
  const pattern = new RegExp(
    [...map.keys()]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join('|'),
    'g',
  );
  return (text) => text.replace(pattern, (m) => map.get(m)!);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `alice-2` → `aaaaa-0`: ids with the same classes have the same length and match the same patterns. */
export function characterClasses(id: string): string {
  return id.replace(/[a-z]/g, 'a').replace(/[A-Z]/g, 'A').replace(/[0-9]/g, '0');
}

/** Logical ids a template value points at: Ref, Fn::GetAtt, DependsOn and `${Id}` / `${Id.Attr}` in Fn::Sub. */
export function references(value: Json): string[] {
  const out: string[] = [];
  collectReferences(value, undefined, out);
  return out;
}

/**
 * One pass over each object's own keys, without copying them: the shape index and the Fleet stacks' reference guard
 * (lib/fleet/intrinsics.ts) walk every resource of a 5,000-pair fleet with it.
 */
function collectReferences(v: Json, key: string | undefined, out: string[]): void {
  if (typeof v === 'string') {
    if (key === 'Ref' || key === 'DependsOn') out.push(v);
    return;
  }
  if (typeof v !== 'object' || v === null) return;
  if (Array.isArray(v)) {
    if (key === 'Fn::GetAtt' && typeof v[0] === 'string') out.push(v[0]);
    if (key === 'Fn::Sub' && typeof v[0] === 'string') out.push(...subReferences(v[0]));
    if (key === 'DependsOn') for (const d of v) if (typeof d === 'string') out.push(d);
    for (const item of v) collectReferences(item, undefined, out);
    return;
  }
  const object = v as Record<string, Json>;
  for (const k in object) {
    const child = object[k];
    if (k === 'Fn::Sub' && typeof child === 'string') out.push(...subReferences(child));
    collectReferences(child, k, out);
  }
}

function subReferences(text: string): string[] {
  return [...text.matchAll(/\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}/g)].map((m) => m[1]);
}

/** Every acknowledgement on the resource and its ancestors, sorted. */
export function acknowledgements(node: IConstruct): [string, string][] {
  const out: [string, string][] = [];
  for (let current: IConstruct | undefined = node; current; current = current.node.scope) {
    for (const entry of current.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY || !entry.data) continue;
      out.push(
        ...Object.entries(entry.data as Record<string, string>).map(
          ([id, reason]) => [id, String(reason)] as [string, string],
        ),
      );
    }
  }
  return out.sort(([a], [b]) => compare(a, b));
}
