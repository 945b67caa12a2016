import { CfnOutput, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import { GitHubOidc, githubSubject } from '../constructs/github-oidc';
import {
  bootstrapRoleArns,
  BootstrapTarget,
  deployRegions,
  GitHubActionsRole,
  invokeFunctionName,
  invokeParameterPath,
} from '../constructs/pipeline-roles';
import { CubicleStack, CubicleStackProps } from './cubicle-stack';

/** The roles of one GitHub environment. */
export interface EnvironmentRoles {
  /** Assumes this account's CDK bootstrap roles (home region and us-east-1), nothing else. */
  readonly deploy: iam.Role;
  /** Invokes the scheduled-run function and reads `/<name>/<env>/*` parameters, nothing else. */
  readonly invoke: iam.Role;
}

/**
 * GitHub Actions deploys through OIDC (claim 11, docs/isolation-claims.md): no long-lived keys, and each role trusts
 * exactly one `sub` of the configured repository, with the STS audience, by StringEquals.
 */
export class PipelineStack extends CubicleStack {
  readonly oidc: GitHubOidc;
  /** Keyed by GitHub environment name. */
  readonly environments: Readonly<Record<string, EnvironmentRoles>>;
  /** Only when `github.pullRequestDiff` is on. */
  readonly diffRole?: iam.Role;

  constructor(scope: Construct, id: string, props: CubicleStackProps) {
    super(scope, id, props);
    const { config } = props;
    const { owner, repo } = config.github;
    // A literal partition keeps policy ARNs (and the acknowledgement below, which names one) free of
    // tokens whatever the feature flags; an unknown region falls back to the AWS::Partition token.
    const partition = RegionInfo.get(this.region).partition ?? this.partition;
    const target: BootstrapTarget = { partition, account: config.account, qualifier: config.bootstrapQualifier };
    const regions = deployRegions(config);

    this.oidc = new GitHubOidc(this, 'GitHubOidc', { existingProviderArn: config.github.oidcProviderArn });

    const environments: Record<string, EnvironmentRoles> = {};
    for (const environment of config.github.environments) {
      const scope = new Construct(this, `Environment-${environment}`);
      const principal = this.oidc.principalFor(githubSubject(owner, repo, { environment }));

      const deploy = new GitHubActionsRole(scope, 'DeployRole', {
        assumedBy: principal,
        description: `Cubicle: GitHub environment ${environment} of ${owner}/${repo} deploys through the CDK bootstrap roles`,
        statements: [
          new iam.PolicyStatement({
            sid: 'AssumeCdkBootstrapRoles',
            actions: ['sts:AssumeRole'],
            resources: bootstrapRoleArns(target, regions, ['deploy', 'file-publishing', 'image-publishing', 'lookup']),
          }),
        ],
      });

      const functionArn = `arn:${partition}:lambda:${this.region}:${config.account}:function:${invokeFunctionName(config)}`;
      const parameterPathArn = `arn:${partition}:ssm:${this.region}:${config.account}:parameter${invokeParameterPath(config, environment)}*`;
      const invoke = new GitHubActionsRole(scope, 'InvokeRole', {
        assumedBy: principal,
        description: `Cubicle: GitHub environment ${environment} of ${owner}/${repo} starts scheduled agent runs`,
        statements: [
          new iam.PolicyStatement({
            sid: 'InvokeScheduledRunFunction',
            actions: ['lambda:InvokeFunction'],
            resources: [functionArn],
          }),
          new iam.PolicyStatement({
            sid: 'ReadEnvironmentParameters',
            actions: ['ssm:GetParameter'],
            // Parameters are added under the path over time; IAM names a path only with a trailing
            // wildcard: https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-access.html
            resources: [parameterPathArn],
          }),
        ],
      });
      Validations.of(invoke.policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${parameterPathArn}]`,
        reason:
          "ssm:GetParameter is limited to one environment's parameter path; IAM can express a path only with a trailing wildcard (https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-access.html).",
      });

      new CfnOutput(scope, 'DeployRoleArn', {
        description: `GitHub environment "${environment}": variable CUBICLE_DEPLOY_ROLE_ARN`,
        value: deploy.role.roleArn,
      });
      new CfnOutput(scope, 'InvokeRoleArn', {
        description: `GitHub environment "${environment}": variable CUBICLE_INVOKE_ROLE_ARN`,
        value: invoke.role.roleArn,
      });
      environments[environment] = { deploy: deploy.role, invoke: invoke.role };
    }
    this.environments = environments;

    if (config.github.pullRequestDiff) {
      const diff = new GitHubActionsRole(this, 'DiffRole', {
        assumedBy: this.oidc.principalFor(githubSubject(owner, repo, 'pull_request')),
        description: `Cubicle: pull requests of ${owner}/${repo} run cdk diff through the CDK lookup role`,
        statements: [
          new iam.PolicyStatement({
            sid: 'AssumeCdkLookupRole',
            actions: ['sts:AssumeRole'],
            resources: bootstrapRoleArns(target, regions, ['lookup']),
          }),
        ],
      });
      new CfnOutput(this, 'DiffRoleArn', {
        description: 'Repository variable CUBICLE_DIFF_ROLE_ARN',
        value: diff.role.roleArn,
      });
      this.diffRole = diff.role;
    }
  }
}
