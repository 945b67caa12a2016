import { listOf, statementsOf } from '../policies';
import { matrixCheck, ownResourceCheck } from './shared';
import { Check, code, outcome } from './types';

/** Claims 5, 6 and 7: partitions, per-agent scope, outbound policy. */

export const tables: Check = {
  id: 'data.tables',
  claim: 5,
  title:
    'Control-plane tables are encrypted with a customer-managed key, with point-in-time recovery; no agent role may Scan',
  run({ fleet }) {
    const findings: string[] = [];
    for (const table of fleet.tables) {
      const sse = table.props.SSESpecification ?? {};
      if (sse.SSEEnabled !== true || !sse.KMSMasterKeyId)
        findings.push(
          `table ${table.label} (${table.stack} ${table.logicalId}) is not encrypted with a customer-managed KMS key`,
        );
      if (table.props.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled !== true)
        findings.push(`table ${table.label}: point-in-time recovery is off`);
    }
    for (const pair of fleet.pairs) {
      for (const { statement } of statementsOf(pair.role.identityPolicies.map((p) => p.policy))) {
        if (
          statement.Effect === 'Allow' &&
          listOf(statement.Action).some((a) => /^dynamodb:(Scan|\*)$/i.test(a) || a === '*')
        ) {
          findings.push(
            `${pair.userId}/${pair.agentId}: statement ${statement.Sid ?? ''} allows ${listOf(statement.Action).join(', ')}`,
          );
        }
      }
    }
    const example = fleet.pairs[0];
    const partition = example
      ? statementsOf(example.role.identityPolicies.map((p) => p.policy)).find((s) =>
          listOf(s.statement.Action).some((a) => a.startsWith('dynamodb:')),
        )?.statement
      : undefined;
    return outcome(
      [
        `${fleet.tables.length} tables (${fleet.tables.map((t) => t.label).join(', ')}), ${fleet.tables.filter((t) => t.props.SSESpecification?.KMSMasterKeyId).length} under a customer-managed key`,
        ...(partition ? [`e.g. ${example.userId}/${example.agentId}: ${code(partition)}`] : []),
      ],
      findings,
    );
  },
};

export const rowsMatrix = matrixCheck(
  'data.matrix',
  5,
  ['rows', 'rows-own', 'fields'],
  'Evaluated: each role reads and writes its own partition only, never Scan, deletes or batch calls, never a message body',
);
export const rowsOwnResources = ownResourceCheck(
  'data.own-resources',
  5,
  "Every table statement of every pair's policy is conditioned on its own partition (dynamodb:LeadingKeys with a Null guard)",
);

export const perAgentScope: Check = {
  id: 'scope.per-agent',
  claim: 6,
  title:
    "Each agent reads only the secrets its own task definition names, all its own user's; skills and connections are set per agent",
  run({ fleet }) {
    const findings: string[] = [];
    const secretByArn = new Map(fleet.secrets.map((s) => [s.arn, s]));
    const lines: string[] = [];
    for (const pair of fleet.pairs) {
      const own = [...pair.ownSecretArns].map((arn) => secretByArn.get(arn)!);
      for (const secret of own)
        if (secret.userId !== pair.userId)
          findings.push(
            `${pair.userId}/${pair.agentId}'s task definition names user ${secret.userId}'s secret ${secret.name}`,
          );
      if (lines.length < 10) {
        const env = environmentOf(pair.taskDefinitions[0]?.props);
        lines.push(
          `${pair.userId}/${pair.agentId}: secrets ${own.map((s) => code(s.name.split('/').slice(-2).join('/'))).join(', ') || 'none'}; skills ${code(env.CUBICLE_SKILLS ?? '')}`,
        );
      }
    }
    return outcome([`${fleet.pairs.length} pairs; the first ${lines.length}:`, ...lines], findings);
  },
};
export const scopeMatrix = matrixCheck(
  'scope.matrix',
  6,
  ['secrets', 'keys'],
  "Evaluated: no agent reads or decrypts a secret its task definition does not name, including its own user's other agents' secrets",
);
export const scopeOwnResources = ownResourceCheck(
  'scope.own-resources',
  6,
  "No pair's policy names a secret of its own user that its task definition does not use",
);

const OUTBOUND_POLICIES = ['allow', 'confirm', 'deny'];

export const outboundPolicy: Check = {
  id: 'outbound.policy',
  claim: 7,
  title: 'Each agent has an outbound policy (allow / confirm / deny; confirm unless set)',
  run({ fleet }) {
    const findings: string[] = [];
    const counts = new Map<string, number>();
    for (const pair of fleet.pairs) {
      const value = environmentOf(pair.taskDefinitions[0]?.props).CUBICLE_OUTBOUND_POLICY ?? 'unset';
      counts.set(value, (counts.get(value) ?? 0) + 1);
      if (value !== 'unset' && !OUTBOUND_POLICIES.includes(value))
        findings.push(`${pair.userId}/${pair.agentId}: outbound policy ${value}`);
    }
    return outcome(
      [
        `outbound policies (CUBICLE_OUTBOUND_POLICY): ${[...counts].map(([k, v]) => `${k} ${v}`).join(', ') || 'no pairs'}`,
      ],
      findings,
    );
  },
};
export const outboundMatrix = matrixCheck(
  'outbound.matrix',
  7,
  ['fields'],
  "Evaluated: no runtime role can write an approval's decision (an agent cannot approve its own call)",
);

/** The environment of a task definition's containers as one map (a task may run more than one container). */
export function environmentOf(props: any): Record<string, string> {
  const entries = (props?.ContainerDefinitions ?? []).flatMap((c: any) => c.Environment ?? []);
  return Object.fromEntries(entries.map((e: { Name: string; Value: string }) => [e.Name, String(e.Value)]));
}
