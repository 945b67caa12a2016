import { describe, expect, it } from 'vitest';
import { ACCOUNT, identityDecision, pipelineConfig, synthPipeline } from './fixture';

const config = pipelineConfig({ environments: ['staging', 'production'], pullRequestDiff: true });
const synth = synthPipeline(config);
const { stack, template } = synth;

const HOME = 'eu-west-1';
const bootstrapRole = (kind: string, region: string, qualifier = 'hnb659fds', account = ACCOUNT) =>
  `arn:aws:iam::${account}:role/cdk-${qualifier}-${kind}-role-${account}-${region}`;
const FUNCTION_ARN = `arn:aws:lambda:${HOME}:${ACCOUNT}:function:acme-scheduled-run`;
const parameter = (path: string, region = HOME) => `arn:aws:ssm:${region}:${ACCOUNT}:parameter${path}`;

/** The customer-managed policy document attached to a role (its only permissions). */
function policyOf(roleLogicalId: string): any {
  const attached = Object.values(template.findResources('AWS::IAM::ManagedPolicy')).filter((p) =>
    p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleLogicalId),
  );
  expect(attached).toHaveLength(1);
  return synth.resolve(attached[0].Properties.PolicyDocument);
}
const logicalId = (role: { node: { defaultChild?: unknown } }) => stack.getLogicalId(role.node.defaultChild as never);

const deployPolicy = policyOf(logicalId(stack.environments.production.deploy));
const invokePolicy = policyOf(logicalId(stack.environments.production.invoke));
const stagingInvokePolicy = policyOf(logicalId(stack.environments.staging.invoke));
const diffPolicy = policyOf(logicalId(stack.diffRole!));

describe('role permissions as synthesized', () => {
  it('deploy role: sts:AssumeRole on the four bootstrap roles in the home region and us-east-1, nothing else', () => {
    expect(deployPolicy).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'AssumeCdkBootstrapRoles',
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Resource: ['deploy', 'file-publishing', 'image-publishing', 'lookup']
            .flatMap((kind) => [bootstrapRole(kind, HOME), bootstrapRole(kind, 'us-east-1')])
            .sort(),
        },
      ],
    });
  });

  it('invoke role: one function and one parameter path, nothing else', () => {
    expect(invokePolicy).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'InvokeScheduledRunFunction', Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: FUNCTION_ARN },
        {
          Sid: 'ReadEnvironmentParameters',
          Effect: 'Allow',
          Action: 'ssm:GetParameter',
          Resource: parameter('/acme/production/*'),
        },
      ],
    });
    expect(stagingInvokePolicy.Statement[1].Resource).toBe(parameter('/acme/staging/*'));
  });

  it('diff role: sts:AssumeRole on the lookup roles only', () => {
    expect(diffPolicy).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'AssumeCdkLookupRole',
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Resource: [bootstrapRole('lookup', HOME), bootstrapRole('lookup', 'us-east-1')],
        },
      ],
    });
  });

  it('roles carry no inline or AWS-managed policies; each has exactly one customer-managed policy', () => {
    const roles = template.findResources('AWS::IAM::Role');
    for (const role of Object.values(roles)) {
      expect(role.Properties.Policies).toBeUndefined();
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
    template.resourceCountIs('AWS::IAM::Policy', 0);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', Object.keys(roles).length);
  });

  it('no action anywhere is a wildcard; the only wildcard resources are the parameter paths', () => {
    const statements = Object.values(template.findResources('AWS::IAM::ManagedPolicy')).flatMap(
      (p) => synth.resolve(p.Properties.PolicyDocument).Statement,
    );
    const actions = statements.flatMap((s: any) => [s.Action ?? [], s.NotAction ?? []].flat());
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((a: string) => a.includes('*'))).toEqual([]);
    expect(statements.every((s: any) => s.Effect === 'Allow' && s.NotResource === undefined)).toBe(true);
    const wildcardResources = statements
      .flatMap((s: any) => [s.Resource].flat())
      .filter((r: string) => r.includes('*'));
    expect(wildcardResources.sort()).toEqual([parameter('/acme/production/*'), parameter('/acme/staging/*')]);
  });

  it('publishes every role ARN as an output for the GitHub variables', () => {
    const outputs = Object.values(template.findOutputs('*')).map((o) => o.Description);
    expect(outputs).toEqual(
      expect.arrayContaining([
        'GitHub environment "production": variable CUBICLE_DEPLOY_ROLE_ARN',
        'GitHub environment "production": variable CUBICLE_INVOKE_ROLE_ARN',
        'GitHub environment "staging": variable CUBICLE_DEPLOY_ROLE_ARN',
        'Repository variable CUBICLE_DIFF_ROLE_ARN',
      ]),
    );
  });
});

describe('what each role can do (iam-simulate)', () => {
  describe('deploy role', () => {
    const allowed = ['deploy', 'file-publishing', 'image-publishing', 'lookup'].flatMap((kind) =>
      [HOME, 'us-east-1'].map((region) => bootstrapRole(kind, region)),
    );
    it.each(allowed)('may assume %s', async (arn) => {
      expect(await identityDecision(deployPolicy, 'sts:AssumeRole', arn)).toBe('Allowed');
    });

    it.each([
      ['the CloudFormation execution role', bootstrapRole('cfn-exec', HOME)],
      ['a bootstrap role of another qualifier', bootstrapRole('deploy', HOME, 'other1')],
      ['a bootstrap role in a third region', bootstrapRole('deploy', 'us-west-2')],
      ['a bootstrap role of another account', bootstrapRole('deploy', HOME, 'hnb659fds', '222222222222')],
      ['another role of the account', `arn:aws:iam::${ACCOUNT}:role/Admin`],
    ])('may not assume %s', async (_what, arn) => {
      expect(await identityDecision(deployPolicy, 'sts:AssumeRole', arn)).toBe('ImplicitlyDenied');
    });

    it.each([
      ['iam:PassRole', bootstrapRole('cfn-exec', HOME)],
      ['cloudformation:CreateStack', `arn:aws:cloudformation:${HOME}:${ACCOUNT}:stack/acme-Platform/x`],
      ['lambda:InvokeFunction', FUNCTION_ARN],
    ])('may not call %s directly', async (action, arn) => {
      expect(await identityDecision(deployPolicy, action, arn)).toBe('ImplicitlyDenied');
    });
  });

  describe('diff role', () => {
    it.each([HOME, 'us-east-1'])('may assume the lookup role in %s', async (region) => {
      expect(await identityDecision(diffPolicy, 'sts:AssumeRole', bootstrapRole('lookup', region))).toBe('Allowed');
    });
    it.each(['deploy', 'file-publishing', 'image-publishing', 'cfn-exec'])(
      'may not assume the %s role',
      async (kind) => {
        expect(await identityDecision(diffPolicy, 'sts:AssumeRole', bootstrapRole(kind, HOME))).toBe(
          'ImplicitlyDenied',
        );
      },
    );
  });

  describe('invoke role (production)', () => {
    it('may invoke the scheduled-run function', async () => {
      expect(await identityDecision(invokePolicy, 'lambda:InvokeFunction', FUNCTION_ARN)).toBe('Allowed');
    });

    it.each([
      ['another function', `arn:aws:lambda:${HOME}:${ACCOUNT}:function:acme-wake`],
      ['a function whose name extends it', `${FUNCTION_ARN}-2`],
      ['an alias of the function (unqualified only)', `${FUNCTION_ARN}:live`],
      ['the same name in another region', FUNCTION_ARN.replace(HOME, 'us-east-1')],
      ['the same name in another account', FUNCTION_ARN.replace(ACCOUNT, '222222222222')],
    ])('may not invoke %s', async (_what, arn) => {
      expect(await identityDecision(invokePolicy, 'lambda:InvokeFunction', arn)).toBe('ImplicitlyDenied');
    });

    it.each(['lambda:UpdateFunctionCode', 'lambda:GetFunction', 'lambda:AddPermission'])(
      'may not call %s on it',
      async (action) => {
        expect(await identityDecision(invokePolicy, action, FUNCTION_ARN)).toBe('ImplicitlyDenied');
      },
    );

    it.each(['/acme/production/schedule', '/acme/production/agents/alice/sales'])('may read %s', async (path) => {
      expect(await identityDecision(invokePolicy, 'ssm:GetParameter', parameter(path))).toBe('Allowed');
    });

    it.each([
      ['another environment', '/acme/staging/schedule'],
      ['a sibling path sharing the prefix text', '/acme/production-eu/schedule'],
      ['the deployment root', '/acme/schedule'],
      ['another deployment', '/other/production/schedule'],
      ['the CDK bootstrap version', '/cdk-bootstrap/hnb659fds/version'],
    ])('may not read %s', async (_what, path) => {
      expect(await identityDecision(invokePolicy, 'ssm:GetParameter', parameter(path))).toBe('ImplicitlyDenied');
    });

    it('may not read the same path in another region', async () => {
      expect(
        await identityDecision(invokePolicy, 'ssm:GetParameter', parameter('/acme/production/x', 'us-east-1')),
      ).toBe('ImplicitlyDenied');
    });

    it.each(['ssm:GetParameters', 'ssm:GetParameterHistory', 'ssm:PutParameter', 'ssm:DeleteParameter'])(
      'may not call %s even inside its path',
      async (action) => {
        expect(await identityDecision(invokePolicy, action, parameter('/acme/production/schedule'))).toBe(
          'ImplicitlyDenied',
        );
      },
    );

    it('the staging invoke role may not read production parameters', async () => {
      expect(
        await identityDecision(stagingInvokePolicy, 'ssm:GetParameter', parameter('/acme/production/schedule')),
      ).toBe('ImplicitlyDenied');
      expect(await identityDecision(stagingInvokePolicy, 'ssm:GetParameter', parameter('/acme/staging/schedule'))).toBe(
        'Allowed',
      );
    });
  });
});
