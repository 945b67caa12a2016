import { App, type AppProps } from 'aws-cdk-lib';
import { addComplianceChecks } from './aspects/compliance';
import { addConfigWarning } from './config/errors';
import { LoadedConfig } from './config/load';
import { FleetLockOptions, resolveShardPlan } from './fleet/lock';
import { fleetStackName } from './fleet/naming';
import { ControlPlaneStack } from './stacks/control-plane-stack';
import { EdgeLogsStack } from './stacks/edge-logs-stack';
import { EdgeStack } from './stacks/edge-stack';
import { FleetStack } from './stacks/fleet-stack';
import { NetworkStack } from './stacks/network-stack';
import { PipelineStack } from './stacks/pipeline-stack';
import { PlatformStack } from './stacks/platform-stack';

/**
 * How `cdk synth` makes the app (bin/cubicle.ts); tests and the synth bench make theirs the same way.
 * No tree.json: it describes every construct for CDK's construct explorer, which nothing here or in a
 * deployment reads, and writing it was a fifth of a large fleet's synth.
 */
export const APP_PROPS: AppProps = { treeMetadata: false };

export interface CubicleStacks {
  readonly edge: EdgeStack;
  /** CloudFront access-log delivery (us-east-1), after the ControlPlane stack that holds the distribution. */
  readonly edgeLogs: EdgeLogsStack;
  readonly network: NetworkStack;
  readonly platform: PlatformStack;
  readonly controlPlane: ControlPlaneStack;
  /** `<name>-Fleet-NN`, in shard order. */
  readonly fleets: FleetStack[];
  readonly pipeline: PipelineStack;
}

export interface CreateAppOptions {
  /** The fleet's shard lock: default, the lock file beside the config file (lib/fleet/lock.ts). */
  readonly fleetLock?: FleetLockOptions;
  /**
   * cdk-nag, cfn-guard and the retention guard on synth, as `cdk synth` always runs them. Only tests that
   * synthesize many apps (test/app/fuzz.test.ts) switch them off, for speed.
   * @default true
   */
  readonly complianceChecks?: boolean;
}

/** Builds every Cubicle stack for one config. `bin/cubicle.ts` and the tests both call this. */
export function createApp(app: App, config: LoadedConfig, options: CreateAppOptions = {}): CubicleStacks {
  const prefix = config.name;
  // First: a lock file that CI may not change fails synth before any work is done.
  const plan = resolveShardPlan(config, options.fleetLock);
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
  const controlPlane = new ControlPlaneStack(app, `${prefix}-ControlPlane`, {
    config,
    network,
    platform,
    webAclArn: edge.webAcl.attrArn,
    description:
      'Cubicle control plane: employee API and its CloudFront distribution, identity, wake/sleep, task events and the reaper',
  });
  const edgeLogs = new EdgeLogsStack(app, `${prefix}-EdgeLogs`, {
    config,
    distribution: controlPlane.edge.distribution,
    description: 'Cubicle edge logs: CloudFront access-log delivery to CloudWatch Logs (us-east-1)',
  });
  const fleets = plan.shards.map(
    ({ shard, users }) =>
      new FleetStack(app, fleetStackName(prefix, shard), {
        config,
        shard,
        users,
        network,
        platform,
        relay: controlPlane.relay,
        description: `Cubicle fleet shard ${shard}: per-user keys and secrets, per-agent roles, task definitions and EFS access points`,
      }),
  );
  for (const warning of plan.warnings) addConfigWarning(app, warning);
  const pipeline = new PipelineStack(app, `${prefix}-Pipeline`, {
    config,
    description: 'Cubicle pipeline: GitHub OIDC provider, deploy, diff and invoke roles',
  });
  if (options.complianceChecks ?? true) addComplianceChecks(app, config);
  return { edge, edgeLogs, network, platform, controlPlane, pipeline, fleets };
}
