import { STATEFUL_TYPES } from '../../lib/aspects/retention-guard';
import { Assembly } from './assembly';
import { publicEntryPoints } from './checks/edge';
import { describeRule } from './checks/compute';
import { listOf, principalsOf, resolvedStatements } from './policies';

/**
 * The security-relevant changes between two assemblies (`--against OLD`), read from the templates alone,
 * so a pull request can be reviewed without AWS credentials: new or widened grants, trust changes,
 * removed denies, stateful resources removed or replaced, and new public surface. Each kind of change is
 * one entry of CHANGE_KINDS; what computes it is one function below.
 */

export const CHANGE_KINDS = {
  'grant-added': 'New grant',
  'grant-widened': 'Grant widened (a condition removed or changed)',
  'deny-removed': 'Deny removed',
  'trust-changed': 'Trust policy changed',
  'stateful-removed': 'Stateful resource removed from its stack',
  'stateful-replaced': 'Stateful resource replaced',
  'retention-weakened': 'Stateful resource no longer retained',
  'public-surface': 'Public surface changed',
} as const;

export type ChangeKind = keyof typeof CHANGE_KINDS;

export interface Change {
  readonly kind: ChangeKind;
  /** `stack LogicalId` (and where in it). */
  readonly where: string;
  readonly detail: string;
}

export interface DiffResult {
  readonly old: { readonly dir: string; readonly deployment: string; readonly resources: number };
  readonly changes: readonly Change[];
  readonly resourcesAdded: Readonly<Record<string, number>>;
  readonly resourcesRemoved: Readonly<Record<string, number>>;
}

/** Properties whose change makes CloudFormation replace a stateful resource (create new, delete old). */
const REPLACING_PROPERTIES: Readonly<Record<string, readonly string[]>> = {
  'AWS::KMS::Key': ['KeySpec', 'KeyUsage', 'MultiRegion'],
  'AWS::SecretsManager::Secret': ['Name'],
  'AWS::EFS::FileSystem': ['Encrypted', 'KmsKeyId', 'PerformanceMode', 'AvailabilityZoneName'],
  'AWS::DynamoDB::Table': ['TableName', 'KeySchema'],
  'AWS::DynamoDB::GlobalTable': ['TableName', 'KeySchema'],
  'AWS::Logs::LogGroup': ['LogGroupName'],
};

export function diffAssemblies(old: Assembly, current: Assembly): DiffResult {
  const changes: Change[] = [
    ...grantChanges(old, current),
    ...trustChanges(old, current),
    ...statefulChanges(old, current),
    ...publicSurfaceChanges(old, current),
  ];
  const count = (a: Assembly) => {
    const out = new Map<string, number>();
    for (const r of a.resources()) out.set(`${r.stack}\u0000${r.logicalId}`, 0);
    return out;
  };
  const before = count(old);
  const after = count(current);
  const typeOf = (a: Assembly, key: string) => {
    const [stack, id] = key.split('\u0000');
    return a.stack(stack).template.Resources[id].Type;
  };
  const tally = (keys: string[], a: Assembly) =>
    keys.reduce<Record<string, number>>((acc, k) => ({ ...acc, [typeOf(a, k)]: (acc[typeOf(a, k)] ?? 0) + 1 }), {});
  return {
    old: { dir: old.dir, deployment: old.deployment, resources: before.size },
    changes,
    resourcesAdded: tally(
      [...after.keys()].filter((k) => !before.has(k)),
      current,
    ),
    resourcesRemoved: tally(
      [...before.keys()].filter((k) => !after.has(k)),
      old,
    ),
  };
}

interface Atom {
  readonly effect: string;
  readonly where: string;
  readonly action: string;
  /** Everything but the action: `on RESOURCE to PRINCIPALS`. */
  readonly target: string;
  readonly condition: string;
}

/** Each Allow/Deny as atoms (holder, principal, action, resource) with its condition. */
function atoms(assembly: Assembly): Map<string, Atom> {
  const out = new Map<string, Atom>();
  for (const s of resolvedStatements(assembly)) {
    if (s.kind === 'trust') continue;
    const where = `${s.stack} ${s.where}`;
    const principals = principalsOf(s.statement).sort().join(',') || (s.kind === 'identity' ? '' : '(none)');
    const actions =
      s.statement.NotAction !== undefined
        ? listOf(s.statement.NotAction).map((a) => `NOT ${a}`)
        : listOf(s.statement.Action);
    const resources =
      s.statement.NotResource !== undefined
        ? listOf(s.statement.NotResource).map((r) => `NOT ${r}`)
        : listOf(s.statement.Resource);
    const condition = stable(s.statement.Condition ?? {});
    for (const action of actions) {
      for (const resource of resources.length > 0 ? resources : ['(this resource)']) {
        const key = [s.stack, s.logicalId, s.statement.Effect, principals, action, resource].join('\u0000');
        const target = `on ${resource}${principals ? ` to ${principals}` : ''}`;
        const previous = out.get(key);
        out.set(key, {
          effect: s.statement.Effect,
          where,
          action,
          target,
          condition: previous ? `${previous.condition} | ${condition}` : condition,
        });
      }
    }
  }
  return out;
}

function grantChanges(old: Assembly, current: Assembly): Change[] {
  const before = atoms(old);
  const after = atoms(current);
  // Changed atoms, grouped back into statements: actions of one holder, target and condition change together.
  const groups = new Map<
    string,
    { kind: ChangeKind; where: string; effect: string; actions: string[]; rest: string }
  >();
  const note = (kind: ChangeKind, atom: Atom, rest: string) => {
    const key = [kind, atom.where, atom.effect, atom.target, rest].join('\u0000');
    const group = groups.get(key) ?? { kind, where: atom.where, effect: atom.effect, actions: [], rest };
    group.actions.push(atom.action);
    groups.set(key, group);
  };
  const when = (condition: string) => (condition !== '{}' ? ` when ${condition}` : '');
  for (const [key, atom] of after) {
    const was = before.get(key);
    if (atom.effect !== 'Allow') continue;
    if (!was) note('grant-added', atom, `${atom.target}${when(atom.condition)}`);
    else if (was.condition !== atom.condition)
      note('grant-widened', atom, `${atom.target}: condition ${was.condition} → ${atom.condition}`);
  }
  for (const [key, atom] of before) {
    if (atom.effect !== 'Deny') continue;
    const now = after.get(key);
    if (!now) note('deny-removed', atom, `${atom.target}${when(atom.condition)}`);
    else if (now.condition !== atom.condition)
      note(
        'deny-removed',
        atom,
        `${atom.target}: condition ${atom.condition} → ${now.condition} (the deny may now apply to fewer requests)`,
      );
  }
  return [...groups.values()].map((g) => ({
    kind: g.kind,
    where: g.where,
    detail: `${g.effect} ${g.actions.join(', ')} ${g.rest}`,
  }));
}

function trustChanges(old: Assembly, current: Assembly): Change[] {
  const trusts = (a: Assembly) =>
    new Map(
      a
        .resources('AWS::IAM::Role')
        .map((r) => [`${r.stack} ${r.logicalId}`, stable(a.props(r).AssumeRolePolicyDocument)]),
    );
  const before = trusts(old);
  const changes: Change[] = [];
  for (const [where, trust] of trusts(current)) {
    const was = before.get(where);
    if (was === undefined) changes.push({ kind: 'trust-changed', where, detail: `new role trusting ${trust}` });
    else if (was !== trust) changes.push({ kind: 'trust-changed', where, detail: `${was} → ${trust}` });
  }
  return changes;
}

function statefulChanges(old: Assembly, current: Assembly): Change[] {
  const changes: Change[] = [];
  const stateful = (type: string) => (STATEFUL_TYPES as readonly string[]).includes(type);
  const elsewhere = new Map(current.resources().map((r) => [r.logicalId, r.stack]));
  for (const r of old.resources().filter((x) => stateful(x.type))) {
    const where = `${r.stack} ${r.logicalId}`;
    const now = current.stacks.find((s) => s.name === r.stack)?.template.Resources[r.logicalId];
    const retained = r.resource.DeletionPolicy === 'Retain';
    if (!now) {
      const moved = elsewhere.get(r.logicalId);
      changes.push({
        kind: 'stateful-removed',
        where,
        detail: `${r.type} ${moved ? `moved to ${moved}: a new one is created there and this one ` : ''}${retained ? 'is left in place, orphaned (retained)' : 'is DELETED with its data'}`,
      });
      continue;
    }
    if (now.Type !== r.type) {
      changes.push({ kind: 'stateful-replaced', where, detail: `type ${r.type} → ${now.Type}` });
      continue;
    }
    if (retained && (now.DeletionPolicy !== 'Retain' || now.UpdateReplacePolicy !== 'Retain')) {
      changes.push({
        kind: 'retention-weakened',
        where,
        detail: `${r.type}: DeletionPolicy ${now.DeletionPolicy ?? 'unset'}, UpdateReplacePolicy ${now.UpdateReplacePolicy ?? 'unset'}`,
      });
    }
    const before = old.props(r);
    const after = current.props({ stack: r.stack, logicalId: r.logicalId });
    for (const property of REPLACING_PROPERTIES[r.type] ?? []) {
      if (stable(before[property]) !== stable(after[property])) {
        changes.push({
          kind: 'stateful-replaced',
          where,
          detail: `${r.type} ${property} ${stable(before[property])} → ${stable(after[property])}: CloudFormation replaces it`,
        });
      }
    }
  }
  return changes;
}

function publicSurfaceChanges(old: Assembly, current: Assembly): Change[] {
  const changes: Change[] = [];
  const diffSets = (what: string, before: string[], after: string[]) => {
    const b = new Set(before);
    const a = new Set(after);
    for (const x of after) if (!b.has(x)) changes.push({ kind: 'public-surface', where: what, detail: `added: ${x}` });
    for (const x of before)
      if (!a.has(x)) changes.push({ kind: 'public-surface', where: what, detail: `removed: ${x}` });
  };
  diffSets('public entry points', publicEntryPoints(old), publicEntryPoints(current));
  const routes = (a: Assembly) =>
    a.resources('AWS::ApiGatewayV2::Route').map((r) => {
      const p = a.props(r);
      return `${r.stack} ${p.RouteKey} (authorization ${p.AuthorizationType ?? 'NONE'})`;
    });
  diffSets('API routes', routes(old), routes(current));
  const ingress = (a: Assembly) =>
    a.resources('AWS::EC2::SecurityGroup', 'AWS::EC2::SecurityGroupIngress').flatMap((r) => {
      const p = a.props(r);
      const rules = r.type === 'AWS::EC2::SecurityGroup' ? (p.SecurityGroupIngress ?? []) : [p];
      return rules.map(
        (rule: any) =>
          `${r.stack} ${r.type === 'AWS::EC2::SecurityGroup' ? r.logicalId : String(rule.GroupId)}: ${describeRule(rule)}`,
      );
    });
  diffSets('security group ingress', ingress(old), ingress(current));
  const invokers = (a: Assembly) =>
    a.resources('AWS::Lambda::Permission').map((r) => {
      const p = a.props(r);
      return `${r.stack} ${String(p.FunctionName)} invocable by ${p.Principal}${p.SourceArn ? ` from ${p.SourceArn}` : ''}`;
    });
  diffSets('function invocation permissions', invokers(old), invokers(current));
  const behaviors = (a: Assembly) =>
    a.resources('AWS::CloudFront::Distribution').flatMap((d) => {
      const c = a.props(d).DistributionConfig ?? {};
      return [{ PathPattern: '(default)', ...c.DefaultCacheBehavior }, ...(c.CacheBehaviors ?? [])].map(
        (b: any) =>
          `${d.stack} ${d.logicalId} ${b.PathPattern}: ${b.ViewerProtocolPolicy}, headers policy ${b.ResponseHeadersPolicyId ? 'set' : 'NONE'}, web ACL ${c.WebACLId ? 'set' : 'NONE'}`,
      );
    });
  diffSets('CloudFront behaviors', behaviors(old), behaviors(current));
  const wafRules = (a: Assembly) =>
    a
      .resources('AWS::WAFv2::WebACL')
      .flatMap((w) =>
        (a.props(w).Rules ?? []).map(
          (rule: any) => `${w.stack} ${w.logicalId}: ${rule.Name} ${stable(rule.Action ?? rule.OverrideAction)}`,
        ),
      );
  diffSets('WAF rules', wafRules(old), wafRules(current));
  return changes;
}

/** JSON with sorted keys, so equal documents compare equal. */
export function stable(value: unknown): string {
  if (value === undefined) return 'undefined';
  return JSON.stringify(value, (_, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
