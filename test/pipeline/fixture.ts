import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';
import { stringify } from 'yaml';
import { runSimulation, runUnsafeSimulation, type EvaluationResult } from '@cloud-copilot/iam-simulate';
import { parseConfigText } from '../../lib/config/load';
import { CubicleConfig } from '../../lib/config/schema';
import { PipelineStack } from '../../lib/stacks/pipeline-stack';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const ACCOUNT = '111111111111';
export const OWNER = 'acme';
export const REPO = 'cubicle-deploy';
export const PROVIDER_ARN = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;

/** The feature flags of cdk.json, which the CLI passes to `cdk synth`. */
const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'),
).context;

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

/** A fresh app with cdk.json's flags and bundling off, writing into its own temp dir. */
export function testApp(): App {
  return new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'cubicle-pipeline-')),
    context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] },
  });
}

export interface SynthesizedPipeline {
  readonly stack: PipelineStack;
  readonly template: Template;
  readonly resources: Record<string, { Type: string; Properties: any }>;
  /** The synthesized properties of a construct's CloudFormation resource. */
  propertiesOf(construct: IConstruct): any;
}

/** Synthesizes only the Pipeline stack (no compliance plugins; see compliance.test.ts for those). */
export function synthPipeline(config: CubicleConfig): SynthesizedPipeline {
  const app = testApp();
  const stack = new PipelineStack(app, `${config.name}-Pipeline`, { config });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources;
  return {
    stack,
    template,
    resources,
    propertiesOf(construct) {
      const cfn = (construct.node.defaultChild ?? construct) as CfnResource;
      return resources[Stack.of(cfn).getLogicalId(cfn)].Properties;
    },
  };
}

/**
 * Resolves the intrinsics a pipeline policy may contain into the strings IAM would see at deploy
 * time. Anything else throws, so a test never evaluates a policy it did not fully understand.
 */
export function resolveIntrinsics(value: unknown, refs: Record<string, string> = {}): any {
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::AccountId': ACCOUNT,
    'AWS::URLSuffix': 'amazonaws.com',
  };
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, refs));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1 && entries[0][0] === 'Ref') {
    const name = entries[0][1] as string;
    const resolved = refs[name] ?? pseudo[name];
    if (resolved === undefined) throw new Error(`cannot resolve Ref ${name}`);
    return resolved;
  }
  if (entries.length === 1 && entries[0][0] === 'Fn::Join') {
    const [sep, parts] = entries[0][1] as [string, unknown[]];
    return parts.map((p) => resolveIntrinsics(p, refs)).join(sep);
  }
  if (entries.length === 1 && entries[0][0].startsWith('Fn::')) throw new Error(`cannot resolve ${entries[0][0]}`);
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveIntrinsics(v, refs)]));
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
