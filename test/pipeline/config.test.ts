import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config/load';
import { GitHubOidc } from '../../lib/constructs/github-oidc';
import { invokeFunctionName } from '../../lib/constructs/pipeline-roles';
import { ACCOUNT, pipelineConfig, PROVIDER_ARN, synthPipeline, testApp } from './fixture';

/** The problems a config is rejected with, one "path: message" line each. */
function problems(github: Record<string, unknown>, top: Record<string, unknown> = {}): string[] {
  try {
    pipelineConfig(github, top);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

// Each variant is synthesized once, at module scope.
const byDefault = synthPipeline(pipelineConfig());
const customized = synthPipeline(
  pipelineConfig(
    { oidcProviderArn: PROVIDER_ARN, invokeFunctionName: 'acme-cron-entry' },
    { region: 'us-east-1', bootstrapQualifier: 'cubq1' },
  ),
);

describe('pipeline defaults', () => {
  it('has no diff role and trusts no pull_request subject unless pullRequestDiff is on', () => {
    expect(byDefault.stack.diffRole).toBeUndefined();
    byDefault.template.resourceCountIs('AWS::IAM::Role', 2);
    expect(JSON.stringify(byDefault.template.toJSON())).not.toContain(':pull_request');
  });

  it('names the invoke function <name>-scheduled-run', () => {
    expect(invokeFunctionName(pipelineConfig())).toBe('acme-scheduled-run');
    expect(JSON.stringify(byDefault.template.toJSON())).toContain(`:function:acme-scheduled-run"`);
  });
});

describe('pipeline options from config', () => {
  it('imports an existing OIDC provider by ARN instead of creating one', () => {
    customized.template.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    const trust = customized.propertiesOf(customized.stack.environments.production.deploy).AssumeRolePolicyDocument;
    expect(trust.Statement[0].Principal).toEqual({ Federated: PROVIDER_ARN });
  });

  it('honours the bootstrap qualifier in the synthesizer and in the deploy role alike', () => {
    const json = customized.template.toJSON();
    expect(json.Parameters.BootstrapVersion.Default).toBe('/cdk-bootstrap/cubq1/version');
    const [policy] = Object.values(customized.template.findResources('AWS::IAM::ManagedPolicy')).filter(
      (p) => p.Properties.PolicyDocument.Statement[0].Sid === 'AssumeCdkBootstrapRoles',
    );
    // Home region is us-east-1: each role once.
    expect(policy.Properties.PolicyDocument.Statement[0].Resource).toEqual(
      ['deploy', 'file-publishing', 'image-publishing', 'lookup'].map(
        (kind) => `arn:aws:iam::${ACCOUNT}:role/cdk-cubq1-${kind}-role-${ACCOUNT}-us-east-1`,
      ),
    );
    expect(JSON.stringify(json)).not.toContain('hnb659fds');
  });

  it('scopes the invoke role to a configured function name', () => {
    expect(JSON.stringify(customized.template.toJSON())).toContain(
      `"arn:aws:lambda:us-east-1:${ACCOUNT}:function:acme-cron-entry"`,
    );
  });
});

describe('config validation of the github section', () => {
  it('rejects an ARN that is not the GitHub provider', () => {
    expect(problems({ oidcProviderArn: `arn:aws:iam::${ACCOUNT}:oidc-provider/accounts.google.com` })).toEqual([
      expect.stringMatching(
        /^github\.oidcProviderArn: oidcProviderArn must be the ARN of the token\.actions\.githubusercontent\.com provider/,
      ),
    ]);
  });

  it("rejects another account's provider", () => {
    expect(problems({ oidcProviderArn: PROVIDER_ARN.replace(ACCOUNT, '222222222222') })).toEqual([
      `github.oidcProviderArn: the provider is in account 222222222222 but the roles are in account ${ACCOUNT}: ` +
        "import this account's provider or remove oidcProviderArn to create one",
    ]);
  });

  it('rejects an environment listed twice, in any case', () => {
    expect(problems({ environments: ['production', 'Production'] })).toEqual([
      'github.environments[1]: environment "Production" is listed twice (also [0]): remove one',
    ]);
  });

  it('rejects a function name Lambda would refuse', () => {
    expect(problems({ invokeFunctionName: 'acme:scheduled' })).toEqual([
      'github.invokeFunctionName: invokeFunctionName must be a Lambda function name: 1-64 letters, digits, "-" or "_", got "acme:scheduled"',
    ]);
  });

  it('rejects a non-boolean pullRequestDiff', () => {
    expect(problems({ pullRequestDiff: 'yes' })).toEqual([expect.stringMatching(/^github\.pullRequestDiff: /)]);
  });

  it('refuses to build a trust for a wildcard subject', () => {
    const oidc = new GitHubOidc(new Construct(testApp(), 'Scope'), 'Oidc', { existingProviderArn: PROVIDER_ARN });
    expect(() => oidc.principalFor('repo:acme/*')).toThrow(/wildcard/);
  });
});
