import { RECORD_OPENERS, RECORD_SEALERS, RECORD_WRITERS, recordSealerRoleName } from '../../../runtime/shared/names';
import { CONTEXT_KEYS } from '../../../runtime/shared/sealed';
import { VAULT_PLACEHOLDER } from '../../../runtime/shared/vault';
import { IamSimulator } from '../iam-simulator';
import { actionMatches, listOf, principalsOf, statementsOf } from '../policies';
import { isAgentRole } from '../principals';
import { adminFindings, matrixCheck, ownResourceCheck } from './shared';
import { Check, code, outcome } from './types';
import { internetReachableRoles } from './reachability';

/** Claim 3: tokens under per-user keys, readable only by the user's agent roles, never in task configuration. */

/** Actions that release a user key's plaintext or let someone else do so. */
const KEY_USE = ['kms:Decrypt', 'kms:ReEncryptFrom', 'kms:CreateGrant', 'kms:GenerateDataKey'];

export const userKeys: Check = {
  id: 'credentials.user-keys',
  claim: 3,
  title:
    "User keys rotate, and their policies let no one but the user's agent roles use them for tokens (via Secrets Manager, per secret); sealed records (claim 5) only with the records' encryption context, by their own pair's role, the control plane's record sealers, or (Decrypt only) its record openers",
  run({ fleet, assembly }) {
    const findings: string[] = [];
    const agentArns = new Map(fleet.pairs.map((p) => [p.role.arn, p]));
    const roleArn = (fn: Parameters<typeof recordSealerRoleName>[1]) =>
      `arn:aws:iam::${assembly.account}:role/${recordSealerRoleName(assembly.deployment, fn)}`;
    const sealers = new Set(RECORD_SEALERS.map(roleArn));
    const openers = new Set(RECORD_OPENERS.map(roleArn));
    const writers = new Set(RECORD_WRITERS.map(roleArn));
    for (const key of fleet.userKeys) {
      const where = `user ${key.userId}'s key ${key.stack} ${key.logicalId}`;
      if (key.props.EnableKeyRotation !== true) findings.push(`${where}: rotation is off`);
      for (const { statement } of statementsOf([key.policy])) {
        if (statement.Effect !== 'Allow') continue;
        const uses = listOf(statement.Action).filter((a) => KEY_USE.some((use) => actionMatches(a, use)));
        if (uses.length === 0) continue;
        const label = `${where}: statement ${statement.Sid ?? '(no Sid)'} allows ${uses.join(', ')} to ${principalsOf(statement).join(', ') || 'no principal'}`;
        if (uses.some((a) => a === '*' || a.toLowerCase() === 'kms:*')) {
          findings.push(
            `${label}: a kms:* grant on a user key lets IAM policies (AdministratorAccess included) decrypt every token under it`,
          );
          continue;
        }
        const condition = (statement.Condition ?? {}) as Record<string, Record<string, unknown>>;
        const principals = [
          ...listOf(condition.ArnEquals?.['aws:PrincipalArn']),
          ...listOf(condition.StringEquals?.['aws:PrincipalArn']),
        ];
        const recordUser = condition.StringEquals?.[`kms:EncryptionContext:${CONTEXT_KEYS.user}`];
        if (recordUser !== undefined) {
          findings.push(
            ...recordStatementFindings(
              label,
              key.userId,
              condition,
              principals,
              agentArns,
              sealers,
              openers,
              writers,
              uses,
            ),
          );
          continue;
        }
        const via = listOf(condition.StringEquals?.['kms:ViaService']);
        const context = [
          ...listOf(condition.ArnLike?.['kms:EncryptionContext:SecretARN']),
          ...listOf(condition.StringEquals?.['kms:EncryptionContext:SecretARN']),
        ];
        if (principals.length === 0) findings.push(`${label} without an aws:PrincipalArn condition`);
        if (!via.every((v) => v.startsWith('secretsmanager.')) || via.length === 0)
          findings.push(`${label} not only via Secrets Manager (kms:ViaService ${via.join(', ') || 'absent'})`);
        if (context.length === 0) findings.push(`${label} without a kms:EncryptionContext:SecretARN condition`);
        if (uses.some((a) => actionMatches(a, 'kms:Decrypt'))) {
          for (const arn of principals) {
            const pair = agentArns.get(arn);
            if (!pair) findings.push(`${label}: Decrypt for ${arn}, which is not an agent role of this assembly`);
            else if (pair.userId !== key.userId)
              findings.push(`${label}: Decrypt for ${pair.userId}/${pair.agentId}, an agent of another user`);
          }
        }
      }
    }
    const example = fleet.userKeys[0];
    return outcome(
      [
        `${fleet.userKeys.length} user keys (KMS keys tagged user_id), rotation on ${fleet.userKeys.filter((k) => k.props.EnableKeyRotation === true).length}`,
        ...(example
          ? [
              `key policy of ${example.userId}'s key ${example.stack} ${example.logicalId}, the statements that use the key: ` +
                statementsOf([example.policy])
                  .map((s) => s.statement)
                  .filter(
                    (s) =>
                      s.Effect === 'Allow' &&
                      listOf(s.Action).some((a) => KEY_USE.some((use) => actionMatches(a, use))),
                  )
                  .map((s) => code(s))
                  .join('; '),
            ]
          : []),
      ],
      findings,
    );
  },
};

/**
 * A key statement for sealed records (runtime/shared/envelope.ts): pinned to this key's user, to the records'
 * exact context keys, and to the pair's own role (its own agent id), the control plane's record sealers, or
 * its record openers, which may only Decrypt (they hand devices plaintext and never seal).
 */
function recordStatementFindings(
  label: string,
  keyUser: string,
  condition: Record<string, Record<string, unknown>>,
  principals: readonly string[],
  agentArns: ReadonlyMap<string, { readonly userId: string; readonly agentId: string }>,
  sealers: ReadonlySet<string>,
  openers: ReadonlySet<string>,
  writers: ReadonlySet<string>,
  uses: readonly string[],
): string[] {
  const findings: string[] = [];
  const users = listOf(condition.StringEquals?.[`kms:EncryptionContext:${CONTEXT_KEYS.user}`]);
  const agents = listOf(condition.StringEquals?.[`kms:EncryptionContext:${CONTEXT_KEYS.agent}`]);
  if (users.length !== 1 || users[0] !== keyUser)
    findings.push(`${label}: records of user ${users.join(', ')}, not only ${keyUser}'s`);
  if (principals.length === 0) findings.push(`${label} without an aws:PrincipalArn condition`);
  if (agents.length === 0) findings.push(`${label} without a kms:EncryptionContext:${CONTEXT_KEYS.agent} condition`);
  for (const arn of principals) {
    const pair = agentArns.get(arn);
    if (pair) {
      if (pair.userId !== keyUser)
        findings.push(`${label}: records for ${pair.userId}/${pair.agentId}, an agent of another user`);
      else if (agents.length !== 1 || agents[0] !== pair.agentId)
        findings.push(
          `${label}: ${pair.userId}/${pair.agentId} may open records of agents ${agents.join(', ')}, not only its own`,
        );
      if (condition.StringLike?.['aws:userid'] === undefined)
        findings.push(`${label}: ${pair.userId}/${pair.agentId} is not bound by its role's unique id (aws:userid)`);
    } else if (sealers.has(arn) || openers.has(arn) || writers.has(arn)) {
      if (openers.has(arn) && uses.some((a) => !actionMatches(a, 'kms:Decrypt')))
        findings.push(`${label}: the record opener ${arn} may ${uses.join(', ')}, not only Decrypt`);
      if (writers.has(arn) && uses.some((a) => !actionMatches(a, 'kms:GenerateDataKey')))
        findings.push(`${label}: the record writer ${arn} may ${uses.join(', ')}, not only GenerateDataKey`);
      const keys = listOf(condition['ForAllValues:StringEquals']?.['kms:EncryptionContextKeys']).sort();
      if (
        keys.join(',') !== Object.values(CONTEXT_KEYS).sort().join(',') ||
        condition.Null?.['kms:EncryptionContextKeys'] !== 'false'
      ) {
        findings.push(`${label}: the record sealer ${arn} is not held to the records' exact encryption context keys`);
      }
    } else {
      findings.push(
        `${label}: records for ${arn}, which is neither an agent role of this assembly nor a record sealer, writer or opener`,
      );
    }
  }
  return findings;
}

export const secrets: Check = {
  id: 'credentials.secrets',
  claim: 3,
  title:
    "Each user secret is under its user's key, starts as a placeholder, and its policy denies reads to every principal but the agent roles whose task definitions name it",
  run({ fleet }) {
    const findings: string[] = [];
    const readers = new Map<string, Set<string>>();
    for (const pair of fleet.pairs)
      for (const arn of pair.ownSecretArns) readers.set(arn, new Set([...(readers.get(arn) ?? []), pair.role.arn]));
    for (const secret of fleet.secrets) {
      const where = `secret ${secret.name} (${secret.stack} ${secret.logicalId})`;
      if (secret.props.GenerateSecretString)
        findings.push(`${where}: generated value (GenerateSecretString) instead of the placeholder`);
      if (secret.props.SecretString !== undefined && secret.props.SecretString !== VAULT_PLACEHOLDER)
        findings.push(`${where}: the template holds a value that is not the vault placeholder`);
      if (!secret.name.includes(`/${secret.userId}/`))
        findings.push(`${where}: encrypted under user ${secret.userId}'s key but not named under that user`);
      if (!secret.resourcePolicy) {
        findings.push(`${where}: no resource policy: any principal whose IAM policy allows GetSecretValue can read it`);
        continue;
      }
      if (secret.resourcePolicyProps?.BlockPublicPolicy !== true) findings.push(`${where}: BlockPublicPolicy is off`);
      const statements = statementsOf([secret.resourcePolicy]).map((s) => s.statement);
      const denyRead = statements.find(
        (s) =>
          s.Effect === 'Deny' &&
          principalsOf(s).includes('*') &&
          listOf(s.Action).some((a) => actionMatches(a, 'secretsmanager:GetSecretValue')),
      );
      // Readers named by role ARN, or by the role's unique id (aws:userid, so a recreated role is not one).
      const byUserId = new Map(
        fleet.pairs.map((p) => [String(p.role.principal.userId ?? '').replace(/:.*$/, ':*'), p.role.arn]),
      );
      const allowed = [
        ...listOf((denyRead?.Condition as any)?.ArnNotEquals?.['aws:PrincipalArn']),
        ...listOf((denyRead?.Condition as any)?.StringNotLike?.['aws:userid']).map(
          (id) => byUserId.get(id) ?? `the role with unique id ${id}`,
        ),
      ];
      const expected = readers.get(secret.arn) ?? new Set<string>();
      if (!denyRead) findings.push(`${where}: its policy does not deny GetSecretValue to every other principal`);
      for (const arn of allowed)
        if (!expected.has(arn))
          findings.push(`${where}: its policy lets ${arn} read it, but that role's task definition does not use it`);
      for (const arn of expected)
        if (denyRead && !allowed.includes(arn))
          findings.push(`${where}: its policy denies ${arn}, whose task definition uses it`);
      for (const s of statements.filter((x) => x.Effect === 'Allow'))
        findings.push(`${where}: its policy allows ${listOf(s.Action).join(', ')} to ${principalsOf(s).join(', ')}`);
    }
    const example = fleet.secrets[0];
    return outcome(
      [
        `${fleet.secrets.length} user secrets, each under its user's key; ${fleet.secrets.filter((s) => s.resourcePolicy).length} with a resource policy`,
        ...(example?.resourcePolicy ? [`resource policy of ${example.name}: ${code(example.resourcePolicy)}`] : []),
      ],
      findings,
    );
  },
};

/** Environment variable names that must never carry a literal credential. */
const SECRET_NAME = /(SECRET|TOKEN|PASSWORD|API_?KEY|CREDENTIAL|PRIVATE)/i;
const SECRET_ARN = /^arn:[a-z-]+:secretsmanager:/;

export const taskConfiguration: Check = {
  id: 'credentials.task-configuration',
  claim: 3,
  title:
    'No task definition puts a token in an environment variable (no ECS `Secrets`, no environment files, secret-looking variables hold ARNs only)',
  run({ fleet }) {
    const findings: string[] = [];
    let variables = 0;
    for (const td of fleet.taskDefinitions) {
      for (const c of td.props.ContainerDefinitions ?? []) {
        const where = `${td.stack} ${td.logicalId} container ${c.Name}`;
        if ((c.Secrets ?? []).length > 0)
          findings.push(
            `${where}: ECS Secrets ${c.Secrets.map((s: any) => s.Name).join(', ')} put secret values in the environment`,
          );
        if ((c.EnvironmentFiles ?? []).length > 0) findings.push(`${where}: environment files`);
        for (const { Name: name, Value: value } of c.Environment ?? []) {
          variables += 1;
          if (/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)$/.test(name))
            findings.push(`${where}: ${name} in the environment`);
          else if (
            SECRET_NAME.test(name) &&
            !String(value)
              .split(',')
              .every((v) => SECRET_ARN.test(v) || v === '')
          )
            findings.push(`${where}: ${name} holds something other than a secret ARN`);
        }
      }
    }
    return outcome(
      [
        `${fleet.taskDefinitions.length} task definitions, ${variables} environment variables read; no ECS Secrets or environment files unless listed below`,
      ],
      findings,
    );
  },
};

export const agentsCannotLaunch: Check = {
  id: 'credentials.agents-cannot-launch',
  claim: 3,
  title: 'No agent role can start, stop or pass roles to tasks (a pair could otherwise run as another pair)',
  async run({ assembly, fleet }) {
    const simulator = new IamSimulator();
    const findings: string[] = [];
    const taskDefinition = (family: string) =>
      `arn:aws:ecs:${assembly.region}:${assembly.account}:task-definition/${family}:1`;
    for (const pair of fleet.pairs) {
      const other = fleet.pairs.find((p) => p !== pair);
      // Its own family (restart itself with overrides) and another pair's (run as that pair).
      const probes: [string, string][] = [
        ...pair.taskDefinitions.map((t) => ['ecs:RunTask', taskDefinition(t.family)] as [string, string]),
        ...(other?.taskDefinitions ?? []).map((t) => ['ecs:RunTask', taskDefinition(t.family)] as [string, string]),
        ['iam:PassRole', pair.role.arn],
        ...(other ? [['iam:PassRole', other.role.arn] as [string, string]] : []),
        ['ecs:StopTask', `arn:aws:ecs:${assembly.region}:${assembly.account}:task/any`],
        ['ecs:RegisterTaskDefinition', '*'],
      ];
      for (const [action, resource] of probes) {
        if (
          (await simulator.evaluate({
            principal: pair.role.principal,
            action,
            resource,
            resourceAccount: assembly.account,
          })) === 'Allowed'
        ) {
          findings.push(`${pair.userId}/${pair.agentId} may ${action} on ${resource}`);
        }
      }
    }
    return outcome(
      [
        `${fleet.pairs.length} agent roles × RunTask (own and another pair's family), PassRole (own and another pair's role), StopTask, RegisterTaskDefinition: ${simulator.evaluations} evaluations`,
      ],
      findings,
    );
  },
};

export const launcher: Check = {
  id: 'credentials.launcher',
  claim: 3,
  title: "Only a launcher that no internet request reaches may RunTask a pair's task definition",
  async run({ assembly, fleet }) {
    const simulator = new IamSimulator();
    const reachable = internetReachableRoles(assembly);
    const clusters = assembly
      .resources('AWS::ECS::Cluster')
      .map((c) => assembly.resolver.getAtt(c.stack, c.logicalId, 'Arn'));
    const launchers: string[] = [];
    const findings: string[] = [];
    for (const role of fleet.roles.filter((r) => !isAgentRole(assembly, r))) {
      // Every pair's family, until one is allowed: a role may be scoped to some families only.
      let target: string | undefined;
      for (const td of fleet.taskDefinitions) {
        const decision = await simulator.evaluate({
          principal: role.principal,
          action: 'ecs:RunTask',
          resource: `arn:aws:ecs:${assembly.region}:${assembly.account}:task-definition/${td.family}:1`,
          resourceAccount: assembly.account,
          context: { 'ecs:cluster': clusters[0] },
        });
        if (decision === 'Allowed') {
          target = td.family;
          break;
        }
      }
      if (!target) continue;
      const via = reachable.get(role.arn);
      launchers.push(`${role.stack} ${role.logicalId}${via ? ` (reached from the internet via ${via})` : ''}`);
      if (via)
        findings.push(
          `${role.stack} ${role.logicalId} may RunTask ${target} and is reached from the internet via ${via}`,
        );
    }
    return outcome([`roles that may RunTask a pair's task definition: ${launchers.join('; ') || 'none'}`], findings);
  },
};

export const credentialsMatrix = matrixCheck(
  'credentials.matrix',
  3,
  ['secrets', 'keys', 'keys-context', 'principals'],
  "Evaluated: each role reads and decrypts exactly its own secrets, only via Secrets Manager with the secret's encryption context; no other role of the assembly reads or decrypts any",
);
export const credentialsOwnResources = ownResourceCheck(
  'credentials.own-resources',
  3,
  "No pair's policy names another user's secret or key, or decrypts with another secret's encryption context",
);
export const credentialsAdministrator: Check = {
  id: 'credentials.administrator',
  claim: 3,
  title: 'An account administrator cannot read, decrypt or overwrite a token without first changing a policy',
  run: (context) => adminFindings(context, 3),
};
