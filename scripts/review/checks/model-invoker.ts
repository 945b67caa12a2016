import { agentRolePath, bedrockInvokerRoleName } from '../../../runtime/shared/names';
import { listOf, principalsOf, statementsOf } from '../policies';
import { Check, code, outcome } from './types';

const MODEL_ACTIONS = new Set(['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream']);

/**
 * Claim 4 for Bedrock agents: the only AWS identity a CLI ever holds is a session of the model invoker role.
 * What the templates show: no role but the invoker has a Bedrock right; the invoker has nothing but
 * InvokeModel*; it trusts only this deployment's task roles tagged `provider: bedrock`; exactly the Bedrock
 * agents' task roles may assume it. test/fleet/bedrock-invoker.test.ts decides the same with the IAM evaluator.
 */
export const modelInvoker: Check = {
  id: 'identity.model-invoker',
  claim: 4,
  title:
    "Bedrock agents' CLIs get sessions of one role that may only invoke the configured models, assumable only by Bedrock agents' task roles",
  run({ assembly, fleet }) {
    const findings: string[] = [];
    const name = bedrockInvokerRoleName(assembly.deployment);
    const invoker = fleet.roles.find((r) => r.name === name);
    const bedrockPairs = fleet.pairs.filter((p) => p.role.tags.provider === 'bedrock');
    for (const role of fleet.roles) {
      const bedrockActions = statementsOf(role.identityPolicies.map((p) => p.policy))
        .filter(({ statement }) => statement.Effect === 'Allow')
        .flatMap(({ statement }) => listOf(statement.Action).filter((a) => a.startsWith('bedrock:') || a === '*'));
      if (role !== invoker && bedrockActions.length > 0)
        findings.push(`${role.name}: may ${bedrockActions.join(', ')} (only the model invoker may)`);
      if (role === invoker && bedrockActions.some((a) => !MODEL_ACTIONS.has(a)))
        findings.push(`${role.name}: may ${bedrockActions.join(', ')}, more than InvokeModel*`);
    }
    if (!invoker) {
      if (bedrockPairs.length > 0) findings.push(`${bedrockPairs.length} Bedrock agents but no role ${name}`);
      return outcome(['no Bedrock agent in this roster: no model invoker role'], findings);
    }
    const other = statementsOf(invoker.identityPolicies.map((p) => p.policy)).filter(({ statement }) =>
      listOf(statement.Action).some((a) => !MODEL_ACTIONS.has(a)),
    );
    if (other.length > 0)
      findings.push(`${name}: has statements beyond InvokeModel*: ${code(other.map((o) => o.statement))}`);
    const agentsPattern = `arn:aws:iam::${assembly.account}:role${agentRolePath(assembly.deployment)}*`;
    for (const { statement } of statementsOf([invoker.trust])) {
      if (statement.Effect !== 'Allow') continue;
      const condition = statement.Condition as Record<string, Record<string, unknown>> | undefined;
      if (JSON.stringify(principalsOf(statement)) !== JSON.stringify([`arn:aws:iam::${assembly.account}:root`]))
        findings.push(`${name}: trusts ${principalsOf(statement).join(', ')}`);
      if (listOf(condition?.ArnLike?.['aws:PrincipalArn']).join() !== agentsPattern)
        findings.push(`${name}: its trust is not limited to ${agentsPattern}`);
      if (listOf(condition?.StringEquals?.['aws:PrincipalTag/provider']).join() !== 'bedrock')
        findings.push(`${name}: its trust does not require the tag provider = bedrock`);
    }
    const assumers = fleet.pairs.filter((p) =>
      statementsOf(p.role.identityPolicies.map((x) => x.policy)).some(
        ({ statement }) =>
          statement.Effect === 'Allow' &&
          listOf(statement.Action).includes('sts:AssumeRole') &&
          listOf(statement.Resource).includes(invoker.arn),
      ),
    );
    for (const pair of assumers)
      if (pair.role.tags.provider !== 'bedrock')
        findings.push(`${pair.userId}/${pair.agentId}: may assume ${name} but is not tagged provider = bedrock`);
    for (const pair of bedrockPairs)
      if (!assumers.includes(pair))
        findings.push(`${pair.userId}/${pair.agentId}: a Bedrock agent that may not assume ${name}`);
    return outcome(
      [
        `${code(name)} (path ${code(invoker.path)}) may ${[...MODEL_ACTIONS].map(code).join(' and ')} only; no other role has a Bedrock right`,
        `trust: ${code(invoker.trust)}`,
        `${assumers.length} task roles may assume it, all tagged provider = bedrock; ${bedrockPairs.length} Bedrock agents`,
      ],
      findings,
    );
  },
};
