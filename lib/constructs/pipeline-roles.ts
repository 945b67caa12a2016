import { DefaultStackSynthesizer, Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CubicleConfig } from '../config/schema';

/** Longest session a pipeline role hands out (IAM's minimum MaxSessionDuration). */
export const PIPELINE_SESSION = Duration.hours(1);

/** Region of the Edge stack (CloudFront's WAF), which the pipeline also deploys. */
export const EDGE_REGION = 'us-east-1';

/**
 * Bootstrap roles the CDK CLI assumes to deploy. The CloudFormation execution role is absent on
 * purpose: the deploy role passes it to CloudFormation; a pipeline never assumes it itself.
 */
export const DEPLOY_BOOTSTRAP_ROLES = {
  deploy: DefaultStackSynthesizer.DEFAULT_DEPLOY_ROLE_ARN,
  'file-publishing': DefaultStackSynthesizer.DEFAULT_FILE_ASSET_PUBLISHING_ROLE_ARN,
  'image-publishing': DefaultStackSynthesizer.DEFAULT_IMAGE_ASSET_PUBLISHING_ROLE_ARN,
  lookup: DefaultStackSynthesizer.DEFAULT_LOOKUP_ROLE_ARN,
} as const;
export type BootstrapRole = keyof typeof DEPLOY_BOOTSTRAP_ROLES;

export interface BootstrapTarget {
  readonly partition: string;
  readonly account: string;
  readonly qualifier: string;
}

/** The home region and us-east-1 (once, when home is us-east-1). */
export function deployRegions(config: CubicleConfig): string[] {
  return [...new Set([config.region, EDGE_REGION])];
}

/**
 * Exact ARNs of the named bootstrap roles in each region, from the same templates the stacks'
 * DefaultStackSynthesizer writes into the assembly, so the pipeline and the CLI agree by construction.
 */
export function bootstrapRoleArns(
  target: BootstrapTarget,
  regions: readonly string[],
  roles: readonly BootstrapRole[],
): string[] {
  return regions.flatMap((region) =>
    roles.map((role) =>
      DEPLOY_BOOTSTRAP_ROLES[role]
        .replace(/\$\{AWS::Partition\}/g, target.partition)
        .replace(/\$\{AWS::AccountId\}/g, target.account)
        .replace(/\$\{AWS::Region\}/g, region)
        .replace(/\$\{Qualifier\}/g, target.qualifier),
    ),
  );
}

/**
 * Name of the control plane's entry for scheduled agent runs, the one function the invoke role may
 * call. The control-plane stack must give its function exactly this name.
 */
export function invokeFunctionName(config: CubicleConfig): string {
  return config.github.invokeFunctionName ?? `${config.name}-scheduled-run`;
}

/** SSM parameter path an environment's invoke role may read under, e.g. `/acme/production/`. */
export function invokeParameterPath(config: CubicleConfig, environment: string): string {
  return `/${config.name}/${environment}/`;
}

export interface GitHubActionsRoleProps {
  /** Who may assume the role: one exact GitHub OIDC subject (see GitHubOidc.principalFor). */
  readonly assumedBy: iam.IPrincipal;
  readonly description: string;
  /** Everything the role may do; nothing is added implicitly. */
  readonly statements: iam.PolicyStatement[];
}

/**
 * A role for GitHub Actions: one-hour sessions, permissions in one customer-managed policy
 * (NIST 800-53 IAMNoInlinePolicy), no AWS-managed policies.
 */
export class GitHubActionsRole extends Construct {
  readonly role: iam.Role;
  readonly policy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: GitHubActionsRoleProps) {
    super(scope, id);
    for (const statement of props.statements) {
      if (statement.actions.some((action) => action.includes('*'))) {
        throw new Error(`${this.node.path}: actions must be named exactly, got ${statement.actions.join(', ')}`);
      }
    }
    this.role = new iam.Role(this, 'Role', {
      description: props.description,
      assumedBy: props.assumedBy,
      maxSessionDuration: PIPELINE_SESSION,
    });
    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      description: props.description,
      statements: props.statements,
      roles: [this.role],
    });
  }
}
