import { createHash } from 'node:crypto';
import { Assembly } from './assembly';
import { FleetModel, PairModel, SecretModel, TableModel, AccessPointModel } from './fleet';
import { Decision, IamSimulator, PolicyJson, SimulatedRequest } from './iam-simulator';
import { isAgentRole, RoleModel } from './principals';
import { statementsOf } from './policies';

/**
 * The isolation matrix, evaluated on the assembly's own policies with a real IAM evaluator
 * (@cloud-copilot/iam-simulate; AGPL, a devDependency of the tests and this script only). Each request
 * is decided with the principal's identity policies and the resource's policy together, as AWS does.
 * Expected results come from the templates: a pair may read the secrets its own task definition names,
 * mount the access point its own task definition mounts and touch its own partition; nothing else.
 *
 * Every pair is checked against its own resources and its own user's other pairs. Against other users'
 * pairs it is checked in full while the whole matrix fits EVALUATION_BUDGET, else against a stated,
 * deterministic sample of other pairs per pair (the report says which).
 */

export interface MatrixOptions {
  /** Evaluations of the full cross-pair matrix above which other pairs are sampled. */
  readonly evaluationBudget?: number;
}

export const EVALUATION_BUDGET = 200_000;
/** Other users' pairs each pair is checked against when sampling (never fewer). */
const MIN_SAMPLE = 3;

/** Fields of control-plane rows only the control plane may write: the runtime writing one would break a claim. */
export const CONTROL_PLANE_FIELDS: Readonly<
  Record<string, { readonly claim: number; readonly fields: readonly string[] }>
> = {
  // An agent that could move its own status or deadline could outlive its cap.
  Sessions: { claim: 9, fields: ['status', 'deadlineAt', 'startedAt', 'sessionId'] },
  // An agent that could write an approval's decision could approve its own outbound call.
  Approvals: { claim: 7, fields: ['decision', 'decidedAt', 'decidedBy'] },
  // A message's body is the employee's, not the runtime's.
  Inbox: { claim: 5, fields: ['body'] },
};

/** DynamoDB calls a runtime must never make, on any partition. */
const FORBIDDEN_TABLE_ACTIONS = [
  'Scan',
  'DeleteItem',
  'BatchGetItem',
  'BatchWriteItem',
  'PartiQLSelect',
  'TransactWriteItems',
].map((a) => `dynamodb:${a}`);
/** Row calls probed on every partition. */
const ROW_ACTIONS = ['GetItem', 'Query', 'PutItem', 'UpdateItem'].map((a) => `dynamodb:${a}`);
const WRITES = new Set(['dynamodb:PutItem', 'dynamodb:UpdateItem']);

export type Outcome = 'Allowed' | 'Denied';

export interface Unexpected {
  readonly category: string;
  readonly claims: readonly number[];
  readonly request: string;
  readonly expected: Outcome;
  readonly actual: Outcome;
}

export interface MatrixCategory {
  readonly id: string;
  readonly title: string;
  readonly claims: readonly number[];
  evaluations: number;
  allowedAsExpected: number;
  deniedAsExpected: number;
}

export interface MatrixResult {
  readonly evaluations: number;
  readonly allowedAsExpected: number;
  readonly deniedAsExpected: number;
  readonly unexpected: readonly Unexpected[];
  readonly categories: readonly MatrixCategory[];
  readonly sampling: { readonly full: boolean; readonly othersPerPair: number | null; readonly description: string };
  /** What each pair's role may do on its own partition of each table, as evaluated (reported, not judged). */
  readonly ownRowRights: Readonly<Record<string, readonly string[]>>;
  /** Evaluations behind ownRowRights, not counted in `evaluations`. */
  readonly ownRowEvaluations: number;
  readonly millis: number;
}

const CATEGORIES: readonly Omit<MatrixCategory, 'evaluations' | 'allowedAsExpected' | 'deniedAsExpected'>[] = [
  {
    id: 'secrets',
    title: 'task role × secret: secretsmanager:GetSecretValue (with the secret policy)',
    claims: [3, 6],
  },
  {
    id: 'keys',
    title:
      'task role × user key: kms:Decrypt via Secrets Manager with the secret ARN as encryption context (with the key policy)',
    claims: [3, 6],
  },
  {
    id: 'keys-context',
    title: 'task role × own key without kms:ViaService, via another service, without encryption context',
    claims: [3],
  },
  {
    id: 'storage',
    title: 'task role × access point: ClientMount / ClientWrite (with the file system policy)',
    claims: [2],
  },
  {
    id: 'storage-own',
    title: 'task role × own access point: mount without an access point, without TLS, as root',
    claims: [2],
  },
  {
    id: 'rows',
    title: 'task role × partition × table: GetItem / Query / PutItem / UpdateItem (dynamodb:LeadingKeys)',
    claims: [5],
  },
  {
    id: 'rows-own',
    title: 'task role × own partition: Scan, deletes, batch and PartiQL calls; no partition key; a second partition',
    claims: [5],
  },
  {
    id: 'fields',
    title: 'task role × own rows: writes of fields only the control plane sets (status, deadline, decision, body)',
    claims: [5, 7, 9],
  },
  { id: 'principals', title: 'every other role of the assembly × secret: GetSecretValue and Decrypt', claims: [3] },
];

export async function evaluateMatrix(
  assembly: Assembly,
  fleet: FleetModel,
  options: MatrixOptions = {},
): Promise<MatrixResult> {
  const started = performance.now();
  const simulator = new IamSimulator();
  const categories = new Map(
    CATEGORIES.map((c) => [c.id, { ...c, evaluations: 0, allowedAsExpected: 0, deniedAsExpected: 0 }]),
  );
  const unexpected: Unexpected[] = [];
  const check = async (
    categoryId: string,
    label: string,
    expected: Outcome,
    request: SimulatedRequest,
    claims?: number[],
  ): Promise<Outcome> => {
    const category = categories.get(categoryId)!;
    const actual = outcome(await simulator.evaluate(request));
    category.evaluations += 1;
    if (actual !== expected)
      unexpected.push({ category: categoryId, claims: claims ?? category.claims, request: label, expected, actual });
    else if (actual === 'Allowed') category.allowedAsExpected += 1;
    else category.deniedAsExpected += 1;
    return actual;
  };

  const { pairs, secrets, tables } = fleet;
  const account = assembly.account;
  const sampling = plan(fleet, options.evaluationBudget ?? EVALUATION_BUDGET);
  const secretsByUser = groupBy(secrets, (s) => s.userId);
  const pairsByUser = groupBy(pairs, (p) => p.userId);
  const ownRowRights: Record<string, string[]> = {};
  let ownRowEvaluations = 0;

  for (const pair of pairs) {
    const who = `${pair.userId}/${pair.agentId}`;
    const principal = pair.role.principal;
    const targets = targetPairs(pair, pairs, pairsByUser, sampling.othersPerPair);
    const targetUsers = new Set(targets.map((t) => t.userId));
    const targetSecrets =
      sampling.othersPerPair === null ? secrets : [...targetUsers].flatMap((u) => secretsByUser.get(u) ?? []);

    for (const secret of targetSecrets) {
      const own = pair.ownSecretArns.has(secret.arn);
      const expected: Outcome = own ? 'Allowed' : 'Denied';
      // Another user's secret breaks claim 3; another agent's of the same user, claims 3 and 6.
      const claims = secret.userId === pair.userId ? [3, 6] : [3];
      await check(
        'secrets',
        `${who} GetSecretValue ${secret.name}`,
        expected,
        {
          principal,
          action: 'secretsmanager:GetSecretValue',
          resource: secret.arn,
          resourceAccount: account,
          resourcePolicy: secret.resourcePolicy,
        },
        claims,
      );
      const onKey = {
        principal,
        action: 'kms:Decrypt',
        resource: secret.key.arn,
        resourceAccount: account,
        resourcePolicy: secret.key.policy,
      };
      const context = viaSecretsManager(assembly, secret);
      await check('keys', `${who} Decrypt ${secret.name}`, expected, { ...onKey, context }, claims);
      if (!own) continue;
      await check('keys-context', `${who} Decrypt ${secret.name} without kms:ViaService`, 'Denied', {
        ...onKey,
        context: { ...context, 'kms:ViaService': undefined },
      });
      await check('keys-context', `${who} Decrypt ${secret.name} via s3`, 'Denied', {
        ...onKey,
        context: { ...context, 'kms:ViaService': `s3.${assembly.region}.amazonaws.com` },
      });
      await check('keys-context', `${who} Decrypt ${secret.name} without encryption context`, 'Denied', {
        ...onKey,
        context: { ...context, 'kms:EncryptionContext:SecretARN': undefined },
      });
    }

    const ownAccessPoints = new Set(pair.accessPoints.map((a) => a.id));
    const targetAccessPoints =
      sampling.othersPerPair === null ? fleet.accessPoints : targets.flatMap((t) => t.accessPoints);
    for (const ap of unique(targetAccessPoints)) {
      const own = ownAccessPoints.has(ap.id);
      for (const action of ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite']) {
        await check('storage', `${who} ${action} ${apLabel(ap)}`, own ? 'Allowed' : 'Denied', {
          ...onFileSystem(principal, ap, account),
          action,
          context: { 'elasticfilesystem:AccessPointArn': ap.arn, 'elasticfilesystem:AccessedViaMountTarget': 'true' },
        });
      }
      if (!own) continue;
      const request = onFileSystem(principal, ap, account);
      await check('storage-own', `${who} mount ${apLabel(ap)} without an access point`, 'Denied', {
        ...request,
        action: 'elasticfilesystem:ClientMount',
      });
      await check('storage-own', `${who} mount ${apLabel(ap)} without TLS`, 'Denied', {
        ...request,
        action: 'elasticfilesystem:ClientMount',
        context: { 'elasticfilesystem:AccessPointArn': ap.arn, 'aws:SecureTransport': 'false' },
      });
      await check('storage-own', `${who} root access through ${apLabel(ap)}`, 'Denied', {
        ...request,
        action: 'elasticfilesystem:ClientRootAccess',
        context: { 'elasticfilesystem:AccessPointArn': ap.arn },
      });
    }

    for (const table of tables) {
      const base = { principal, resource: table.arn, resourceAccount: account };
      const rights: string[] = [];
      for (const action of ROW_ACTIONS) {
        const context = rowContext(pair.role, table, action, pair.key);
        // Own partition: what the role may do there is reported, not judged (the runtime's needs change).
        const decision = outcome(await simulator.evaluate({ ...base, action, context }));
        ownRowEvaluations += 1;
        if (decision === 'Allowed') rights.push(action.replace('dynamodb:', ''));
        for (const target of targets) {
          if (target === pair) continue;
          await check('rows', `${who} ${action} ${table.label} ${target.key}`, 'Denied', {
            ...base,
            action,
            context: { ...context, 'dynamodb:LeadingKeys': [target.key] },
          });
        }
        await check('rows-own', `${who} ${action} ${table.label} without dynamodb:LeadingKeys`, 'Denied', {
          ...base,
          action,
          context: { ...context, 'dynamodb:LeadingKeys': undefined },
        });
        await check('rows-own', `${who} ${action} ${table.label} with a second partition`, 'Denied', {
          ...base,
          action,
          context: { ...context, 'dynamodb:LeadingKeys': [pair.key, otherKey(pair, pairs)] },
        });
      }
      ownRowRights[`${who} ${table.label}`] = rights;
      for (const action of FORBIDDEN_TABLE_ACTIONS) {
        await check('rows-own', `${who} ${action} ${table.label}`, 'Denied', {
          ...base,
          action,
          context: { 'dynamodb:LeadingKeys': [pair.key] },
        });
      }
      const controlPlane = CONTROL_PLANE_FIELDS[table.label];
      if (!controlPlane) continue;
      for (const action of WRITES) {
        const context = rowContext(pair.role, table, action, pair.key);
        for (const field of controlPlane.fields) {
          const attributes = [...new Set([...[context['dynamodb:Attributes'] ?? []].flat(), field])];
          await check(
            'fields',
            `${who} ${action} ${table.label} ${field}`,
            'Denied',
            { ...base, action, context: { ...context, 'dynamodb:Attributes': attributes } },
            [controlPlane.claim],
          );
        }
      }
    }
  }

  for (const role of fleet.roles.filter((r) => !isAgentRole(assembly, r))) {
    for (const secret of secrets) {
      const label = `${role.stack} ${role.logicalId}`;
      await check('principals', `${label} GetSecretValue ${secret.name}`, 'Denied', {
        principal: role.principal,
        action: 'secretsmanager:GetSecretValue',
        resource: secret.arn,
        resourceAccount: account,
        resourcePolicy: secret.resourcePolicy,
      });
      await check('principals', `${label} Decrypt ${secret.name}`, 'Denied', {
        principal: role.principal,
        action: 'kms:Decrypt',
        resource: secret.key.arn,
        resourceAccount: account,
        resourcePolicy: secret.key.policy,
        context: viaSecretsManager(assembly, secret),
      });
    }
  }

  const all = [...categories.values()];
  return {
    evaluations: all.reduce((n, c) => n + c.evaluations, 0),
    allowedAsExpected: all.reduce((n, c) => n + c.allowedAsExpected, 0),
    deniedAsExpected: all.reduce((n, c) => n + c.deniedAsExpected, 0),
    unexpected,
    categories: all,
    sampling,
    ownRowRights,
    ownRowEvaluations,
    millis: Math.round(performance.now() - started),
  };
}

/**
 * Full matrix when it fits the budget; else every pair against its own user's pairs and the largest
 * sample of other users' pairs that keeps the whole run within the budget (never fewer than MIN_SAMPLE).
 */
function plan(fleet: FleetModel, budget: number): MatrixResult['sampling'] {
  const p = fleet.pairs.length;
  const users = Math.max(1, new Set(fleet.pairs.map((x) => x.userId)).size);
  const perTarget = (fleet.secrets.length / users) * 2 + 2 + fleet.tables.length * ROW_ACTIONS.length;
  const full =
    p * (fleet.secrets.length * 2 + fleet.accessPoints.length * 2 + p * fleet.tables.length * ROW_ACTIONS.length);
  if (full <= budget) {
    return {
      full: true,
      othersPerPair: null,
      description: `every pair against every pair's secrets, keys, access points and partitions (${p} pairs, nothing sampled)`,
    };
  }
  const sameUser = p / users;
  const fixed =
    p *
    (sameUser * perTarget + fleet.tables.length * (ROW_ACTIONS.length * 2 + FORBIDDEN_TABLE_ACTIONS.length + 8) + 10);
  const others = Math.max(MIN_SAMPLE, Math.floor((budget - fixed) / p / perTarget));
  return {
    full: false,
    othersPerPair: others,
    description:
      `every pair against its own resources and every pair of its own user, and against ${others} pairs of other users ` +
      `chosen per pair (deterministically, from a hash of the pair's key), with those users' secrets and keys; ` +
      `the full matrix would take about ${full.toLocaleString('en-US')} evaluations. Every pair's policy is also checked, without sampling, ` +
      "to name no other pair's secret, key, access point or partition (structural checks of claims 2, 3, 5 and 6)",
  };
}

function targetPairs(
  pair: PairModel,
  pairs: readonly PairModel[],
  byUser: Map<string, PairModel[]>,
  others: number | null,
): PairModel[] {
  if (others === null) return [...pairs];
  const sameUser = byUser.get(pair.userId) ?? [];
  const candidates = pairs.filter((p) => p.userId !== pair.userId);
  const chosen = new Set<PairModel>();
  let counter = 0;
  while (chosen.size < Math.min(others, candidates.length)) {
    const digest = createHash('sha256').update(`${pair.key}/${counter++}`).digest();
    chosen.add(candidates[digest.readUInt32BE(0) % candidates.length]);
  }
  return [...sameUser, ...chosen];
}

function rowContext(role: RoleModel, table: TableModel, action: string, key: string): Record<string, string[]> {
  if (!WRITES.has(action)) return { 'dynamodb:LeadingKeys': [key] };
  // A write names the attributes it touches. Probe with the ones the role's own policy lists for this
  // table (or just the keys), so that what decides a request on another partition is the partition.
  const listed = new Set<string>();
  for (const { statement } of statementsOf(role.identityPolicies.map((p) => p.policy))) {
    if (statement.Effect !== 'Allow' || ![statement.Resource].flat().includes(table.arn)) continue;
    const attributes = (statement.Condition as any)?.['ForAllValues:StringEquals']?.['dynamodb:Attributes'];
    for (const a of [attributes ?? []].flat()) listed.add(String(a));
  }
  const keys = (table.props.KeySchema ?? []).map((k: { AttributeName: string }) => k.AttributeName);
  return { 'dynamodb:LeadingKeys': [key], 'dynamodb:Attributes': listed.size > 0 ? [...listed] : keys };
}

function viaSecretsManager(assembly: Assembly, secret: SecretModel): Record<string, string> {
  return {
    'kms:ViaService': `secretsmanager.${assembly.region}.amazonaws.com`,
    'kms:EncryptionContext:SecretARN': secret.arn,
    'kms:CallerAccount': assembly.account,
  };
}

function onFileSystem(principal: SimulatedRequest['principal'], ap: AccessPointModel, account: string) {
  return {
    principal,
    resource: ap.fileSystem?.arn ?? ap.arn,
    resourceAccount: account,
    resourcePolicy: ap.fileSystem?.policy as PolicyJson | undefined,
  };
}

const apLabel = (ap: AccessPointModel) => `access point ${ap.userId ?? '?'}/${ap.agentId ?? '?'} (${ap.logicalId})`;
const outcome = (decision: Decision): Outcome => (decision === 'Allowed' ? 'Allowed' : 'Denied');
const otherKey = (pair: PairModel, pairs: readonly PairModel[]) => pairs.find((p) => p !== pair)?.key ?? 'someone#else';

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(key(item), [...(out.get(key(item)) ?? []), item]);
  return out;
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}
