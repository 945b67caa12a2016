import { FleetModel, PairModel } from '../fleet';
import { listOf, statementsOf } from '../policies';

/**
 * Every pair's identity policy, statement by statement, against every other pair's resources: a vault
 * secret, user key, access point, file system or table it names must be its own (or, for file systems
 * and tables, be conditioned on its own access point or partition). Exhaustive and cheap: this is what
 * lets the evaluated matrix sample other pairs on large fleets.
 */
export interface OwnResourceFinding {
  readonly claim: 2 | 3 | 5 | 6;
  readonly message: string;
}

export function ownResourceFindings(fleet: FleetModel): OwnResourceFinding[] {
  const findings: OwnResourceFinding[] = [];
  const secretByArn = new Map(fleet.secrets.map((s) => [s.arn, s]));
  const keyByArn = new Map(fleet.userKeys.map((k) => [k.arn, k]));
  const apByArn = new Map(fleet.accessPoints.map((a) => [a.arn, a]));
  const fileSystemArns = new Set(fleet.fileSystems.map((f) => f.arn));
  const tableArns = new Set(fleet.tables.map((t) => t.arn));

  for (const pair of fleet.pairs) {
    const who = `${pair.userId}/${pair.agentId} (${pair.role.stack} ${pair.role.logicalId})`;
    const ownAps = new Set(pair.accessPoints.map((a) => a.arn));
    for (const { statement } of statementsOf(pair.role.identityPolicies.map((p) => p.policy))) {
      if (statement.Effect !== 'Allow') continue;
      const sid = statement.Sid ? `statement ${statement.Sid}` : 'a statement';
      const condition = (statement.Condition ?? {}) as Record<string, Record<string, unknown>>;
      const conditionValues = (key: string) => Object.values(condition).flatMap((c) => listOf(c?.[key]));
      for (const resource of listOf(statement.Resource)) {
        for (const secret of matching(resource, secretByArn)) {
          if (!pair.ownSecretArns.has(secret.arn)) {
            findings.push({
              claim: secret.userId === pair.userId ? 6 : 3,
              message: `${who}: ${sid} names secret ${secret.name}, which its task definition does not use`,
            });
          }
        }
        for (const key of matching(resource, keyByArn)) {
          if (key.userId !== pair.userId)
            findings.push({ claim: 3, message: `${who}: ${sid} names user ${key.userId}'s key ${key.logicalId}` });
        }
        for (const ap of matching(resource, apByArn)) {
          if (!ownAps.has(ap.arn))
            findings.push({ claim: 2, message: `${who}: ${sid} names access point ${ap.userId}/${ap.agentId}` });
        }
        if ([...fileSystemArns].some((arn) => globMatches(resource, arn))) {
          const aps = conditionValues('elasticfilesystem:AccessPointArn');
          if (aps.length === 0 || aps.some((arn) => !ownAps.has(arn))) {
            findings.push({
              claim: 2,
              message: `${who}: ${sid} allows a file system ${aps.length === 0 ? 'without an elasticfilesystem:AccessPointArn condition' : `through access points other than its own (${aps.join(', ')})`}`,
            });
          }
        }
        if ([...tableArns].some((arn) => globMatches(resource, arn) || resource.startsWith(`${arn}/`))) {
          findings.push(...partitionFindings(pair, who, sid, condition));
        }
      }
      for (const arn of conditionValues('kms:EncryptionContext:SecretARN')) {
        for (const secret of matching(arn, secretByArn)) {
          if (!pair.ownSecretArns.has(secret.arn))
            findings.push({
              claim: 3,
              message: `${who}: ${sid} decrypts with secret ${secret.name}'s encryption context`,
            });
        }
      }
    }
  }
  return findings;
}

function partitionFindings(
  pair: PairModel,
  who: string,
  sid: string,
  condition: Record<string, Record<string, unknown>>,
): OwnResourceFinding[] {
  const keys = listOf(condition['ForAllValues:StringEquals']?.['dynamodb:LeadingKeys']);
  const guarded = listOf(condition.Null?.['dynamodb:LeadingKeys']).includes('false');
  if (keys.length === 1 && keys[0] === pair.key && guarded) return [];
  if (keys.length === 0)
    return [
      {
        claim: 5,
        message: `${who}: ${sid} allows a table without a ForAllValues:StringEquals dynamodb:LeadingKeys condition`,
      },
    ];
  if (!guarded)
    return [
      {
        claim: 5,
        message: `${who}: ${sid} has no Null guard on dynamodb:LeadingKeys (ForAllValues passes when the key is absent)`,
      },
    ];
  return [{ claim: 5, message: `${who}: ${sid} allows partitions ${keys.join(', ')}, not only its own ${pair.key}` }];
}

/** The resources of a map whose ARN an IAM resource pattern matches. */
function matching<T>(pattern: string, byArn: ReadonlyMap<string, T>): T[] {
  if (!pattern.includes('*') && !pattern.includes('?')) {
    const exact = byArn.get(pattern);
    return exact ? [exact] : [];
  }
  return [...byArn].filter(([arn]) => globMatches(pattern, arn)).map(([, value]) => value);
}

function globMatches(pattern: string, value: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === value;
  return new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  ).test(value);
}
