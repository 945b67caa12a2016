import * as path from 'node:path';
import { CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';
import { stringify } from 'yaml';
import { runSimulation, runUnsafeSimulation, type EvaluationResult } from '@cloud-copilot/iam-simulate';
import { parseConfigText } from '../../lib/config/load';
import { CubicleConfig } from '../../lib/config/schema';
import { PipelineStack } from '../../lib/stacks/pipeline-stack';
import type { TemplateJson } from '../support/assembly';
import { CfnResolver } from '../support/cfn-intrinsics';
import { ACCOUNT } from '../support/account';
import { testApp } from '../support/synth';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export { ACCOUNT, testApp };
export const OWNER = 'acme';
export const REPO = 'cubicle-deploy';
export const PROVIDER_ARN = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;

/**
 * A valid config through the real loader: a small roster plus the given `github` keys
 * (owner/repo fixed) and top-level overrides.
 */
export function pipelineConfig(github: Record<string, unknown> = {}, top: Record<string, unknown> = {}): CubicleConfig {
  const doc = {
    name: 'acme',
    account: ACCOUNT,
    region: 'eu-west-1',
    github: { owner: OWNER, repo: REPO, ...github },
    providers: ['anthropic'],
    users: [{ id: 'alice', email: 'alice@acme.example', agents: [{ id: 'sales', provider: 'anthropic' }] }],
    ...top,
  };
  return parseConfigText(stringify(doc), 'pipeline-test.yaml');
}

export interface SynthesizedPipeline {
  readonly stack: PipelineStack;
  readonly template: Template;
  readonly resources: Record<string, { Type: string; Properties: any }>;
  /** The synthesized properties of a construct's CloudFormation resource. */
  propertiesOf(construct: IConstruct): any;
  /**
   * Resolves a template value into what IAM would see at deploy time (test/support/cfn-intrinsics.ts).
   * An intrinsic left unresolved throws, so a test never evaluates a policy it did not fully understand.
   */
  resolve(value: unknown): any;
}

/** Synthesizes only the Pipeline stack (no compliance plugins; see compliance.test.ts for those). */
export function synthPipeline(config: CubicleConfig): SynthesizedPipeline {
  const app = testApp();
  const stack = new PipelineStack(app, `${config.name}-Pipeline`, { config });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources;
  const resolver = new CfnResolver(new Map([[stack.stackName, template.toJSON() as TemplateJson]]), {
    account: ACCOUNT,
    regionOf: () => config.region,
  });
  return {
    stack,
    template,
    resources,
    propertiesOf(construct) {
      const cfn = (construct.node.defaultChild ?? construct) as CfnResource;
      return resources[Stack.of(cfn).getLogicalId(cfn)].Properties;
    },
    resolve(value) {
      const resolved = resolver.resolve(stack.stackName, value);
      const left = JSON.stringify(resolved).match(/"(Ref|Fn::[A-Za-z]+)":/);
      if (left) throw new Error(`cannot resolve ${left[1]} in ${JSON.stringify(value)}`);
      return resolved;
    },
  };
}

/** The claims of a GitHub Actions token as IAM condition keys (omit a claim by passing undefined). */
export function githubClaims(claims: { sub?: string; aud?: string }): Record<string, string> {
  const out: Record<string, string> = {};
  if (claims.sub !== undefined) out['token.actions.githubusercontent.com:sub'] = claims.sub;
  if (claims.aud !== undefined) out['token.actions.githubusercontent.com:aud'] = claims.aud;
  return out;
}

/**
 * `sts:AssumeRoleWithWebIdentity` evaluated against a role's trust policy as its resource policy.
 *
 * `runUnsafeSimulation`, because `runSimulation` drops request context keys that the IAM Service
 * Authorization Reference does not list for the action, and it lists GitHub's `actor`, `ref`, ...
 * but not the `aud`/`sub` keys IAM documents for OIDC federation
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif):
 * with them dropped, every request would be denied and the Allowed case could never pass.
 * `checkTrustPolicy` still validates the document with the full validator.
 */
export function assumeWithWebIdentity(
  trustPolicy: unknown,
  request: { principal?: string; context: Record<string, string> },
): EvaluationResult {
  return runUnsafeSimulation(
    {
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      // The simulator's pre-validated policy shape, which carries the policy name it reports on.
      resourcePolicy: { __validated: true, policyDocument: trustPolicy, metadata: { name: 'TrustPolicy' }, errors: [] },
      request: {
        principal: request.principal ?? PROVIDER_ARN,
        action: 'sts:AssumeRoleWithWebIdentity',
        resource: { accountId: ACCOUNT, resource: `arn:aws:iam::${ACCOUNT}:role/pipeline-role-under-test` },
        contextVariables: request.context,
      },
    },
    {},
  );
}

/** Validates a trust policy as a resource policy with the simulator's full validator. */
export async function checkTrustPolicy(trustPolicy: unknown): Promise<string> {
  const result = await runSimulation(
    {
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: trustPolicy,
      request: {
        principal: PROVIDER_ARN,
        action: 'sts:AssumeRoleWithWebIdentity',
        resource: { accountId: ACCOUNT, resource: `arn:aws:iam::${ACCOUNT}:role/pipeline-role-under-test` },
        contextVariables: {},
      },
    },
    {},
  );
  return result.resultType === 'error' ? JSON.stringify(result.errors) : 'valid';
}

/** One request from a role's session, evaluated against the role's identity policy. */
export async function identityDecision(
  policyDocument: unknown,
  action: string,
  resource: string,
): Promise<EvaluationResult> {
  const result = await runSimulation(
    {
      identityPolicies: [{ name: 'RolePolicy', policy: policyDocument }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        principal: `arn:aws:iam::${ACCOUNT}:role/pipeline-role-under-test`,
        action,
        // The resource's own account: another account's resource is a cross-account request.
        resource: { accountId: resource.split(':')[4] || ACCOUNT, resource },
        contextVariables: {},
      },
    },
    {},
  );
  if (result.resultType === 'error') throw new Error(`simulation error: ${JSON.stringify(result.errors)}`);
  return result.overallResult;
}
