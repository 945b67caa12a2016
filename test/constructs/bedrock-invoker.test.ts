/**
 * BedrockInvoker on its own: the one role Bedrock agents' CLIs get sessions of. Its trust and its only
 * policy, exactly, for a foundation model and a cross-region inference profile. The fleet test
 * (test/fleet/bedrock-invoker.test.ts) evaluates the same role with IAM's logic across the whole app.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../lib/config/load';
import { BedrockInvoker, MODEL_INVOKE_ACTIONS } from '../../lib/constructs/bedrock-invoker';
import { ACCOUNT } from '../support/account';
import { testStack } from '../support/synth';
import { minimalConfigText } from '../support/example-config';

function invokerRole(models: string[]): any {
  const config = parseConfigText(
    minimalConfigText({
      providers: '[bedrock]',
      bedrock: `{ models: [${models.map((m) => `'${m}'`).join(', ')}] }`,
      users: '[{ id: alice, email: alice@acme.example, agents: [{ id: sales, provider: bedrock }] }]',
    }),
    'bedrock-invoker.test.yaml',
  );
  const stack = testStack();
  new BedrockInvoker(stack, 'BedrockInvoker', { config });
  const roles = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Role'));
  expect(roles).toHaveLength(1);
  return roles[0].Properties;
}

/** cdk.json's flags make the partition a literal where the region is known. */
const partition = (rest: string) => `arn:aws${rest}`;

describe('BedrockInvoker', () => {
  it('is named and pathed for the deployment, and its sessions last the hour role chaining allows', () => {
    const role = invokerRole(['anthropic.claude-3-haiku-20240307-v1:0']);
    expect(role.RoleName).toBe('acme-bedrock-invoker');
    expect(role.Path).toBe('/cubicle/acme/');
    expect(role.MaxSessionDuration).toBe(3600);
  });

  it("trusts only this deployment's agent task roles tagged provider: bedrock", () => {
    const role = invokerRole(['anthropic.claude-3-haiku-20240307-v1:0']);
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Sid: 'BedrockAgentsTaskRoles',
        Effect: 'Allow',
        Principal: { AWS: partition(`:iam::${ACCOUNT}:root`) },
        Action: 'sts:AssumeRole',
        Condition: {
          ArnLike: { 'aws:PrincipalArn': partition(`:iam::${ACCOUNT}:role/cubicle/acme/agents/*`) },
          StringEquals: { 'aws:PrincipalTag/provider': 'bedrock' },
        },
      },
    ]);
  });

  it('may only invoke the configured models: a foundation model in the home region', () => {
    const [policy] = invokerRole(['anthropic.claude-3-haiku-20240307-v1:0']).Policies;
    expect(policy.PolicyDocument.Statement).toEqual([
      {
        Sid: 'InvokeConfiguredBedrockModels',
        Effect: 'Allow',
        Action: [...MODEL_INVOKE_ACTIONS],
        Resource: partition(':bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0'),
      },
    ]);
  });

  it('an inference profile in the home region, and its foundation model in any region of its geography', () => {
    const [policy] = invokerRole(['eu.anthropic.claude-sonnet-4-5-20250929-v1:0']).Policies;
    expect(policy.PolicyDocument.Statement[0].Resource).toEqual([
      partition(':bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0'),
      partition(`:bedrock:eu-west-1:${ACCOUNT}:inference-profile/eu.anthropic.claude-sonnet-4-5-20250929-v1:0`),
    ]);
    expect(MODEL_INVOKE_ACTIONS).toEqual(['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream']);
  });
});
