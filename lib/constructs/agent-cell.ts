import { Stack, Tags, Validations } from 'aws-cdk-lib';
import * as efs from 'aws-cdk-lib/aws-efs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { agentRolePath, taskFamily } from '../../runtime/shared/names';
import { RosterAgentConfig, CubicleConfig, UserConfig } from '../config/schema';
import { agentEnvironment } from '../fleet/agent-environment';
import { attributeWithinStack } from '../fleet/intrinsics';
import { agentRoleName } from '../fleet/naming';
import { bedrockInvokerArn } from '../fleet/principals';
import { compare } from '../util/order';
import {
  AGENT_POSIX_ID,
  containerDefinitions,
  ephemeralVolumes,
  SUPERVISOR_CONTAINER_NAME,
  VOLUMES,
} from './agent-containers';
import type { AgentImageNeeds } from './agent-images';
import { PROVIDER_TAG } from './bedrock-invoker';
import { agentPolicy, agentTrustPolicy } from './agent-cell-policy';
import { AgentTaskDefinition } from './agent-task-definition';
import { UserVault } from './user-vault';

export { AGENT_POSIX_ID, WORKSPACE_PATH } from './agent-containers';
/** The container ECS reports a task's state for (the supervisor; lib/constructs/agent-containers.ts). */
export const AGENT_CONTAINER_NAME = SUPERVISOR_CONTAINER_NAME;

export { RUNTIME_RELAY_ACTIONS } from './agent-cell-policy';

/** Shared values of the Platform stack a cell uses, resolved once per Fleet stack. */
export interface AgentPlatformRefs {
  /** The agent image with the agent's CLI and exactly its skills (lib/constructs/agent-images.ts). */
  imageUriFor(agent: AgentImageNeeds): string;
  readonly executionRoleArn: string;
  readonly logGroupName: string;
  /** The runtime relay: its stage URL and the ARN of its `$connect` route. */
  readonly relay: { readonly url: string; readonly connectArn: string };
  /** The Cubicle cluster's name: the task roles trust only its tasks. */
  readonly clusterName: string;
}

export interface AgentCellProps {
  readonly config: CubicleConfig;
  readonly user: UserConfig;
  readonly agent: RosterAgentConfig;
  readonly vault: UserVault;
  /** The shard's file system. */
  readonly fileSystem: { readonly fileSystemId: string; readonly fileSystemArn: string };
  readonly platform: AgentPlatformRefs;
}

/**
 * One (user, agent) pair (claims 1, 2, 4, 5, 6, docs/isolation-claims.md): its task role, EFS access point and Fargate
 * task definition. The role may read only the pair's own secrets, decrypt them only through Secrets
 * Manager, mount only its own access point, and connect to the runtime relay (no table access at all).
 * L1 resources: what a reviewer reads in the template is exactly what is written here, and
 * thousands of cells synthesize in seconds.
 */
export class AgentCell extends Construct {
  readonly role: iam.CfnRole;
  readonly accessPoint: efs.CfnAccessPoint;
  readonly taskDefinition: AgentTaskDefinition;
  /** The container environment as set in the task definition (values may be tokens). */
  readonly environment: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: AgentCellProps) {
    super(scope, id);
    const { config, user, agent, vault, fileSystem, platform } = props;
    const stack = Stack.of(this);

    this.accessPoint = new efs.CfnAccessPoint(this, 'AccessPoint', {
      fileSystemId: fileSystem.fileSystemId,
      rootDirectory: {
        path: `/agents/${user.id}/${agent.id}`,
        creationInfo: { ownerUid: String(AGENT_POSIX_ID), ownerGid: String(AGENT_POSIX_ID), permissions: '0700' },
      },
      posixUser: { uid: String(AGENT_POSIX_ID), gid: String(AGENT_POSIX_ID) },
    });

    this.role = new iam.CfnRole(this, 'TaskRole', {
      roleName: agentRoleName(config.name, user.id, agent.id),
      path: agentRolePath(config.name),
      description: `Cubicle: task role of agent ${agent.id} of user ${user.id}`,
      assumeRolePolicyDocument: agentTrustPolicy(stack, config, platform.clusterName),
      policies: [
        {
          policyName: 'agent',
          policyDocument: agentPolicy(stack, {
            config,
            agent,
            vault,
            fileSystem,
            platform,
            accessPointArn: attributeWithinStack(this.accessPoint, 'Arn'),
          }),
        },
      ],
    });

    this.environment = agentEnvironment(config, user, agent, {
      secrets: vault.secrets.values(),
      userKeyArn: vault.key.keyArn,
      relayUrl: platform.relay.url,
      bedrockRoleArn: bedrockInvokerArn(stack, config),
    });

    this.taskDefinition = new AgentTaskDefinition(this, 'TaskDefinition', {
      family: taskFamily(config.name, user.id, agent.id),
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: String(config.runtime.cpu),
      memory: String(config.runtime.memoryMiB),
      runtimePlatform: {
        cpuArchitecture: config.runtime.architecture === 'arm64' ? 'ARM64' : 'X86_64',
        operatingSystemFamily: 'LINUX',
      },
      executionRoleArn: platform.executionRoleArn,
      taskRoleArn: attributeWithinStack(this.role, 'Arn'),
      volumes: [
        {
          name: VOLUMES.workspace,
          efsVolumeConfiguration: {
            filesystemId: fileSystem.fileSystemId,
            transitEncryption: 'ENABLED',
            authorizationConfig: {
              accessPointId: attributeWithinStack(this.accessPoint, 'AccessPointId'),
              iam: 'ENABLED',
            },
          },
        },
        ...ephemeralVolumes(),
      ],
      containerDefinitions: containerDefinitions({
        image: platform.imageUriFor(agent),
        taskMemoryMiB: config.runtime.memoryMiB,
        environment: Object.entries(this.environment)
          .sort(([a], [b]) => compare(a, b))
          .map(([name, value]) => ({ name, value })),
        log: { group: platform.logGroupName, region: stack.region, streamPrefix: `${user.id}/${agent.id}` },
      }),
    });

    Tags.of(this).add('user_id', user.id);
    Tags.of(this).add('agent_id', agent.id);
    // The model invoker role trusts task roles by this tag (lib/constructs/bedrock-invoker.ts).
    if (agent.provider === 'bedrock') Tags.of(this.role).add(PROVIDER_TAG, agent.provider);
    Validations.of(this.role).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason:
        "Each pair has its own policy naming only its own secrets, key, access point and the runtime relay's $connect; inline, it lives and dies with the role and adds no resource per pair (CloudFormation allows 500 per stack).",
    });
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment carries ids, the relay URL and secret ARNs only (runtime/shared/agent-env.ts); credentials are read from Secrets Manager into memory at start.',
    });
  }
}
