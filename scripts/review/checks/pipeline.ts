import { Assembly } from '../assembly';
import { listOf, principalsOf, statementsOf } from '../policies';
import { RoleModel } from '../principals';
import { Check, code, outcome } from './types';

/** Claim 11: GitHub OIDC trust pinned by aud and exact sub; no long-lived keys; narrow invoke roles. */

const GITHUB = 'token.actions.githubusercontent.com';

/** Roles a GitHub Actions OIDC token can assume (through a provider of this assembly, or an imported one). */
export function githubRoles(assembly: Assembly, roles: readonly RoleModel[]): RoleModel[] {
  const providers = new Set(
    assembly
      .resources('AWS::IAM::OIDCProvider')
      .filter((p) => String(assembly.props(p).Url).includes(GITHUB))
      .map((p) => assembly.resolver.ref(p.stack, p.logicalId)),
  );
  return roles.filter((r) =>
    statementsOf([r.trust]).some(
      ({ statement }) =>
        statement.Effect === 'Allow' &&
        listOf(statement.Action).includes('sts:AssumeRoleWithWebIdentity') &&
        principalsOf(statement).some((p) => providers.has(p) || p.includes(`oidc-provider/${GITHUB}`)),
    ),
  );
}

export const oidcTrust: Check = {
  id: 'pipeline.oidc-trust',
  claim: 11,
  title: `Every role GitHub Actions can assume pins ${GITHUB}:aud = sts.amazonaws.com and an exact :sub with StringEquals (no wildcard, no StringLike)`,
  run({ assembly, fleet }) {
    const findings: string[] = [];
    const evidence: string[] = [];
    for (const role of githubRoles(assembly, fleet.roles)) {
      const where = `role ${role.stack} ${role.logicalId}`;
      for (const { statement } of statementsOf([role.trust])) {
        if (statement.Effect !== 'Allow') continue;
        const condition = (statement.Condition ?? {}) as Record<string, Record<string, unknown>>;
        for (const operator of Object.keys(condition)) {
          if (operator !== 'StringEquals')
            findings.push(`${where}: trust condition operator ${operator} (only StringEquals pins a subject)`);
        }
        const aud = listOf(condition.StringEquals?.[`${GITHUB}:aud`]);
        const sub = listOf(condition.StringEquals?.[`${GITHUB}:sub`]);
        if (aud.length !== 1 || aud[0] !== 'sts.amazonaws.com')
          findings.push(`${where}: aud is ${aud.join(', ') || 'not pinned'}`);
        if (sub.length === 0) findings.push(`${where}: sub is not pinned: any repository's workflow may assume it`);
        for (const s of sub)
          if (/[*?]/.test(s) || !/^repo:[^/]+\/[^:]+:(environment:.+|pull_request|ref:refs\/.+)$/.test(s))
            findings.push(`${where}: sub ${s} is not one exact repository subject`);
        evidence.push(
          `${where}: ${code(condition)}${role.maxSessionDuration ? `, sessions ≤ ${role.maxSessionDuration} s` : ''}`,
        );
      }
    }
    if (evidence.length === 0) evidence.push('no role trusts GitHub Actions');
    return outcome(evidence, findings);
  },
};

export const noLongLivedKeys: Check = {
  id: 'pipeline.no-long-lived-keys',
  claim: 11,
  title: 'No IAM users or access keys',
  run({ assembly }) {
    const found = assembly.resources('AWS::IAM::User', 'AWS::IAM::AccessKey', 'AWS::IAM::Group');
    return outcome(
      [`IAM users, groups and access keys: ${found.length}`],
      found.map((r) => `${r.type} ${r.stack} ${r.logicalId}`),
    );
  },
};

export const invokeRoles: Check = {
  id: 'pipeline.narrow-roles',
  claim: 11,
  title:
    'A GitHub role that may invoke a function may only invoke one named function and read SSM parameters under one prefix; deploy roles only assume the CDK bootstrap roles',
  run({ assembly, fleet }) {
    const findings: string[] = [];
    const evidence: string[] = [];
    for (const role of githubRoles(assembly, fleet.roles)) {
      const where = `role ${role.stack} ${role.logicalId}`;
      const statements = statementsOf(role.identityPolicies.map((p) => p.policy))
        .map((s) => s.statement)
        .filter((s) => s.Effect === 'Allow');
      const actions = statements.flatMap((s) => listOf(s.Action));
      if (role.awsManagedPolicies.length > 0)
        findings.push(`${where}: AWS managed policies ${role.awsManagedPolicies.join(', ')}`);
      if (actions.some((a) => a.startsWith('lambda:'))) {
        const functions = new Set<string>();
        for (const s of statements) {
          for (const action of listOf(s.Action)) {
            const resources = listOf(s.Resource);
            if (action === 'lambda:InvokeFunction') resources.forEach((r) => functions.add(r));
            else if (/^ssm:GetParameters?$/.test(action)) {
              for (const r of resources)
                if (!/:parameter\/[^*]+\/\*$/.test(r))
                  findings.push(`${where}: ${action} on ${r}, not one parameter prefix`);
            } else findings.push(`${where}: ${action} (an invoke role may only invoke and read its parameters)`);
          }
        }
        for (const f of functions) if (/[*?]/.test(f)) findings.push(`${where}: invokes ${f}, not one named function`);
        if (functions.size > 1) findings.push(`${where}: invokes ${functions.size} functions`);
        evidence.push(`${where} (invoke): ${code(statements)}`);
      } else {
        for (const s of statements) {
          for (const action of listOf(s.Action)) {
            if (action !== 'sts:AssumeRole') findings.push(`${where}: ${action}`);
            else
              for (const r of listOf(s.Resource))
                if (!/:role\/cdk-[a-z0-9]+-(deploy|file-publishing|image-publishing|lookup)-role-/.test(r))
                  findings.push(`${where}: may assume ${r}, not a CDK bootstrap role`);
          }
        }
        evidence.push(`${where}: assumes ${statements.flatMap((s) => listOf(s.Resource)).length} CDK bootstrap roles`);
      }
    }
    return outcome(evidence, findings);
  },
};
