import { Assembly } from './assembly';
import { FleetModel } from './fleet';
import { IamSimulator, PolicyJson } from './iam-simulator';
import { administrator } from './principals';

/**
 * What an account administrator (`Action: "*"` on `Resource: "*"`, as AdministratorAccess grants) can
 * and cannot do to employees' data, evaluated with the same IAM evaluator on these templates' resource
 * policies. "Cannot" rows are claims (3: tokens, 2: storage, 4: identities) and fail the review when an
 * evaluation allows them; "can" rows are what the claims leave to CloudTrail and to the people who
 * review it.
 */

export interface AdminRow {
  /** `cannot` rows have an expectation (Denied) and a claim; `can` rows are facts. */
  readonly kind: 'cannot' | 'can';
  readonly claim?: number;
  readonly what: string;
  /** What it means for a reviewer. */
  readonly meaning: string;
  readonly evaluations: number;
  readonly allowed: number;
  /** Requests that broke a `cannot` row. */
  readonly exceptions: readonly string[];
}

export interface AdminResult {
  readonly rows: readonly AdminRow[];
  readonly evaluations: number;
}

interface Probe {
  readonly label: string;
  readonly action: string;
  readonly resource: string;
  readonly resourcePolicy?: PolicyJson;
  readonly context?: Record<string, string | undefined>;
}

export async function evaluateAdministrator(assembly: Assembly, fleet: FleetModel): Promise<AdminResult> {
  const simulator = new IamSimulator();
  const admin = administrator(assembly);
  const account = assembly.account;
  const viaSecretsManager = (arn: string) => ({
    'kms:ViaService': `secretsmanager.${assembly.region}.amazonaws.com`,
    'kms:EncryptionContext:SecretARN': arn,
  });
  const rows: AdminRow[] = [];
  const row = async (
    kind: AdminRow['kind'],
    claim: number | undefined,
    what: string,
    meaning: string,
    probes: Probe[],
  ) => {
    if (probes.length === 0) return;
    let allowed = 0;
    const exceptions: string[] = [];
    for (const probe of probes) {
      const decision = await simulator.evaluate({ principal: admin, resourceAccount: account, ...probe });
      if (decision !== 'Allowed') continue;
      allowed += 1;
      if (kind === 'cannot') exceptions.push(probe.label);
    }
    rows.push({ kind, claim, what, meaning, evaluations: probes.length, allowed, exceptions });
  };

  const secrets = fleet.secrets.map((s) => ({ label: s.name, resource: s.arn, resourcePolicy: s.resourcePolicy }));
  const keys = fleet.secrets.map((s) => ({
    label: `${s.name}'s key (${s.key.logicalId})`,
    resource: s.key.arn,
    resourcePolicy: s.key.policy,
    arn: s.arn,
  }));
  const userKeys = fleet.userKeys.map((k) => ({
    label: `user ${k.userId}'s key (${k.logicalId})`,
    resource: k.arn,
    resourcePolicy: k.policy,
  }));
  const fileSystems = fleet.fileSystems.map((f) => ({
    label: `${f.stack} ${f.logicalId}`,
    resource: f.arn,
    resourcePolicy: f.policy,
    accessPoint: fleet.accessPoints.find((a) => a.fileSystem?.arn === f.arn)?.arn,
  }));

  await row(
    'cannot',
    3,
    'read a token (`secretsmanager:GetSecretValue` on a user secret)',
    'each secret denies reads to every principal but its agent roles',
    secrets.map((s) => ({ ...s, action: 'secretsmanager:GetSecretValue' })),
  );
  await row(
    'cannot',
    3,
    'decrypt a token (`kms:Decrypt` with a user key, via Secrets Manager or directly)',
    "user keys grant Decrypt only to their user's agent roles; the account may administer them, not use them",
    [
      ...keys.map((k) => ({ ...k, action: 'kms:Decrypt', context: viaSecretsManager(k.arn) })),
      ...userKeys.map((k) => ({ ...k, label: `${k.label} directly`, action: 'kms:Decrypt' })),
    ],
  );
  await row(
    'cannot',
    3,
    'overwrite a token (`secretsmanager:PutSecretValue`)',
    "only the control plane's credential writer may write a secret",
    secrets.map((s) => ({ ...s, action: 'secretsmanager:PutSecretValue' })),
  );
  await row(
    'cannot',
    2,
    'mount a file system as root (`elasticfilesystem:ClientRootAccess`) or without an access point',
    'file system policies deny root and mounts that bypass an access point, for every principal',
    [
      ...fileSystems.map((f) => ({
        ...f,
        label: `${f.label} as root`,
        action: 'elasticfilesystem:ClientRootAccess',
        context: { 'elasticfilesystem:AccessPointArn': f.accessPoint },
      })),
      ...fileSystems.map((f) => ({
        ...f,
        label: `${f.label} without an access point`,
        action: 'elasticfilesystem:ClientMount',
      })),
    ],
  );
  await row(
    'cannot',
    4,
    "assume a pair's task role (`sts:AssumeRole`)",
    'task roles trust only ECS tasks of this account',
    fleet.pairs.map((p) => ({
      label: p.role.name,
      action: 'sts:AssumeRole',
      resource: p.role.arn,
      resourcePolicy: p.role.trust,
    })),
  );

  await row(
    'cannot',
    3,
    "change or delete a secret's policy directly (`secretsmanager:PutResourcePolicy`, `DeleteResourcePolicy`)",
    "each secret's policy denies policy changes to every principal but CloudFormation's execution role",
    [
      ...secrets.map((s) => ({ ...s, action: 'secretsmanager:PutResourcePolicy' })),
      ...secrets.map((s) => ({
        ...s,
        label: `${s.label} delete policy`,
        action: 'secretsmanager:DeleteResourcePolicy',
      })),
    ],
  );

  await row(
    'can',
    undefined,
    "change a secret's policy through a CloudFormation deploy (`cloudformation:CreateChangeSet`), then read it",
    'the deploy is the only way in: `npm run review -- --against` lists the change before it runs, CloudTrail records it and the security events topic raises `VaultSecretChanged`',
    assembly.stacks
      .filter((s) => fleet.secrets.some((x) => x.stack === s.name))
      .map((s) => ({
        label: s.name,
        action: 'cloudformation:CreateChangeSet',
        resource: `arn:aws:cloudformation:${assembly.region}:${account}:stack/${s.name}/*`,
      })),
  );
  await row(
    'can',
    undefined,
    "change a user key's policy (`kms:PutKeyPolicy`), then decrypt",
    'the account root administers user keys (AWS refuses a key policy that locks the account out); CloudTrail records PutKeyPolicy',
    userKeys.slice(0, 50).map((k) => ({ ...k, action: 'kms:PutKeyPolicy' })),
  );
  await row(
    'can',
    undefined,
    "schedule a user key's deletion (`kms:ScheduleKeyDeletion`)",
    "crypto-shredding when a user leaves (README, offboarding); 7-30 days' waiting period, cancellable",
    userKeys.slice(0, 50).map((k) => ({ ...k, action: 'kms:ScheduleKeyDeletion' })),
  );
  await row(
    'can',
    undefined,
    'read control-plane table items (`dynamodb:GetItem`, `Scan`)',
    "rows hold ids, states and event records; claim 5 keeps message text as ciphertext under the user's key (runtime behaviour, not visible in templates)",
    fleet.tables.flatMap((t) =>
      ['dynamodb:GetItem', 'dynamodb:Scan'].map((action) => ({
        label: `${t.label} ${action}`,
        action,
        resource: t.arn,
      })),
    ),
  );
  await row(
    'can',
    undefined,
    "start a pair's task (`ecs:RunTask`), with overrides",
    "the task then runs as that pair; claim 3's launcher-only rule and security event are the control for this",
    fleet.taskDefinitions.slice(0, 50).map((t) => ({
      label: t.family,
      action: 'ecs:RunTask',
      resource: `arn:aws:ecs:${assembly.region}:${account}:task-definition/${t.family}:1`,
    })),
  );

  return { rows, evaluations: simulator.evaluations };
}
