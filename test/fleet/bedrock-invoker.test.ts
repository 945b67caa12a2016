import { describe, expect, it, inject } from 'vitest';
import { readAssembly } from '../../scripts/review/assembly';
import { IamSimulator, type SimulatedPrincipal } from '../support/iam-simulator';
import { administrator, isAgentRole, readRoles } from '../../scripts/review/principals';
import { readTemplates } from '../support/assembly';
import { exampleConfig } from '../support/example-config';
import { synthesize } from '../support/synth';

/**
 * Claim 4 for Bedrock agents (docs/isolation-claims.md): the CLI's only AWS identity is a session of the
 * model invoker role, which may invoke the configured models and nothing else; only Bedrock agents' task
 * roles may assume it, and the task roles themselves no longer invoke models. Read from the example
 * assembly and decided by a real IAM evaluator, denials as well as grants.
 */
const config = exampleConfig();
const assembly = readAssembly(inject('exampleAssemblyDir'));
const roles = readRoles(assembly);
const invoker = roles.find((r) => r.name === 'acme-bedrock-invoker')!;
const agents = roles.filter((r) => isAgentRole(assembly, r));
const providerOf = (userId: string, agentId: string) =>
  config.users.find((u) => u.id === userId)!.agents.find((a) => a.id === agentId)!.provider;
const MODEL = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const PROFILE_ARN = `arn:aws:bedrock:${config.region}:${config.account}:inference-profile/${MODEL}`;
const FOUNDATION_ARN = 'arn:aws:bedrock:us-east-2::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0';
const OTHER_MODEL_ARN = `arn:aws:bedrock:${config.region}::foundation-model/anthropic.claude-opus-4-1-20250805-v1:0`;

describe('the model invoker role (Bedrock agents)', () => {
  it("exists once, outside the agents' path, with exactly this trust and one statement", () => {
    expect(roles.filter((r) => r.name.endsWith('-bedrock-invoker'))).toHaveLength(1);
    expect(invoker.stack).toBe('acme-Platform');
    expect(invoker.path).toBe('/cubicle/acme/');
    expect(invoker.maxSessionDuration).toBe(3600);
    expect(invoker.trust).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'BedrockAgentsTaskRoles',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${config.account}:root` },
          Action: 'sts:AssumeRole',
          Condition: {
            ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${config.account}:role/cubicle/acme/agents/*` },
            StringEquals: { 'aws:PrincipalTag/provider': 'bedrock' },
          },
        },
      ],
    });
    expect(invoker.identityPolicies.flatMap((p) => [p.policy.Statement].flat())).toEqual([
      {
        Sid: 'InvokeConfiguredBedrockModels',
        Effect: 'Allow',
        Action: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
        Resource: ['arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0', PROFILE_ARN],
      },
    ]);
  });

  it("may be assumed by exactly the Bedrock agents' task roles: not other agents, not an administrator", async () => {
    const simulator = new IamSimulator();
    const assume = (principal: SimulatedPrincipal) =>
      simulator.evaluate({
        principal,
        action: 'sts:AssumeRole',
        resource: invoker.arn,
        resourceAccount: config.account,
        resourcePolicy: invoker.trust,
      });
    const decisions = new Map<string, string>();
    for (const role of agents)
      decisions.set(`${role.tags.user_id}/${role.tags.agent_id}`, await assume(role.principal));
    const expected = new Map(
      agents.map((r) => [
        `${r.tags.user_id}/${r.tags.agent_id}`,
        providerOf(r.tags.user_id, r.tags.agent_id) === 'bedrock' ? 'Allowed' : 'ImplicitlyDenied',
      ]),
    );
    expect(decisions).toEqual(expected);
    expect([...decisions.values()].filter((d) => d === 'Allowed').length).toBe(2); // bruno/research, chen/scout
    // An administrator may call sts:AssumeRole on anything, but is not a task role of this deployment.
    expect(await assume(administrator(assembly))).toBe('ImplicitlyDenied');
    // A non-Bedrock agent's role carries no provider tag: even given the right, the trust refuses it.
    const other = agents.find((r) => providerOf(r.tags.user_id, r.tags.agent_id) !== 'bedrock')!;
    const widened = {
      ...other.principal,
      identityPolicies: [
        {
          name: 'extra',
          policy: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: invoker.arn }],
          },
        },
      ],
    };
    expect(await assume(widened)).toBe('ImplicitlyDenied');
  });

  it('lets a session invoke the configured models only, and reach nothing else', async () => {
    const simulator = new IamSimulator();
    const can = (action: string, resource: string) =>
      simulator.evaluate({ principal: invoker.principal, action, resource, resourceAccount: config.account });
    expect(await can('bedrock:InvokeModel', PROFILE_ARN)).toBe('Allowed');
    expect(await can('bedrock:InvokeModelWithResponseStream', FOUNDATION_ARN)).toBe('Allowed');
    expect(await can('bedrock:InvokeModel', OTHER_MODEL_ARN)).toBe('ImplicitlyDenied');
    expect(await can('bedrock:CreateModelCustomizationJob', PROFILE_ARN)).toBe('ImplicitlyDenied');
    expect(await can('sts:AssumeRole', invoker.arn)).toBe('ImplicitlyDenied');
    expect(
      await can(
        'secretsmanager:GetSecretValue',
        `arn:aws:secretsmanager:${config.region}:${config.account}:secret:cubicle/acme/bruno/provider/anthropic-AbCdEf`,
      ),
    ).toBe('ImplicitlyDenied');
    expect(
      await can(
        'execute-api:Invoke',
        `arn:aws:execute-api:${config.region}:${config.account}:abcdef1234/runtime/$connect`,
      ),
    ).toBe('ImplicitlyDenied');
  });

  it("leaves the task roles no model rights of their own: a Bedrock agent's role may only assume the invoker", async () => {
    const simulator = new IamSimulator();
    for (const role of agents) {
      const bedrock = providerOf(role.tags.user_id, role.tags.agent_id) === 'bedrock';
      const statements = role.identityPolicies.flatMap((p) => [p.policy.Statement].flat());
      expect(
        statements.some((s) => JSON.stringify(s.Action).includes('bedrock:')),
        role.name,
      ).toBe(false);
      expect(
        statements.filter((s) => s.Sid === 'AssumeModelInvokerRole'),
        role.name,
      ).toEqual(
        bedrock
          ? [{ Sid: 'AssumeModelInvokerRole', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: invoker.arn }]
          : [],
      );
      expect(role.tags.provider, role.name).toBe(bedrock ? 'bedrock' : undefined);
      expect(
        await simulator.evaluate({
          principal: role.principal,
          action: 'bedrock:InvokeModel',
          resource: PROFILE_ARN,
          resourceAccount: config.account,
        }),
        role.name,
      ).toBe('ImplicitlyDenied');
    }
  });

  it('is not created when no agent uses Bedrock', () => {
    const withoutBedrock = {
      ...config,
      providers: config.providers.filter((p) => p !== 'bedrock'),
      bedrock: undefined,
      users: config.users
        .map((u) => ({ ...u, agents: u.agents.filter((a) => a.provider !== 'bedrock') }))
        .filter((u) => u.agents.length > 0),
    };
    const templates = readTemplates(synthesize(withoutBedrock).outdir);
    const names = [...templates.values()]
      .flatMap((t) => Object.values(t.Resources ?? {}))
      .filter((r) => r.Type === 'AWS::IAM::Role')
      .map((r) => r.Properties?.RoleName);
    expect(names).not.toContain('acme-bedrock-invoker');
    expect(JSON.stringify([...templates.values()])).not.toContain('CUBICLE_BEDROCK_ROLE_ARN');
  });
});
