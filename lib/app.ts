import { App } from 'aws-cdk-lib';
import { addComplianceChecks } from './aspects/compliance';
import { LoadedConfig } from './config/load';
import { EdgeStack } from './stacks/edge-stack';
import { NetworkStack } from './stacks/network-stack';
import { PipelineStack } from './stacks/pipeline-stack';
import { PlatformStack } from './stacks/platform-stack';

export interface CubicleStacks {
  readonly edge: EdgeStack;
  readonly network: NetworkStack;
  readonly platform: PlatformStack;
  readonly pipeline: PipelineStack;
}

/** Builds every Cubicle stack for one config. `bin/cubicle.ts` and the tests both call this. */
export function createApp(app: App, config: LoadedConfig): CubicleStacks {
  const prefix = config.name;
  const edge = new EdgeStack(app, `${prefix}-Edge`, {
    config,
    description: 'Cubicle edge: WAF web ACL for CloudFront (us-east-1)',
  });
  const network = new NetworkStack(app, `${prefix}-Network`, {
    config,
    description: 'Cubicle network: VPC, endpoints, flow logs and agent security groups',
  });
  const platform = new PlatformStack(app, `${prefix}-Platform`, {
    config,
    network,
    description: 'Cubicle platform: ECS cluster, agent image, execution role, logs and platform key',
  });
  const pipeline = new PipelineStack(app, `${prefix}-Pipeline`, { config, description: 'Cubicle pipeline: GitHub OIDC provider, deploy, diff and invoke roles' });
  addComplianceChecks(app, config);
  return { edge, network, platform, pipeline };
}
