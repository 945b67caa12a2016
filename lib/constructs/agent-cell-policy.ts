/**
 * The IAM documents of a pair's task role (AgentCell): who may assume it, and the one inline policy that
 * names only the pair's own secrets, access point, the runtime relay's `$connect` and, for Bedrock, the
 * model invoker role. Written as JSON, not PolicyStatement objects: what a reviewer reads in the
 * template is exactly what is written here.
 */
import { Stack } from 'aws-cdk-lib';
import { RosterAgentConfig, CubicleConfig } from '../config/schema';
import { ownSecrets } from '../fleet/agent-environment';
import { allow, policy, StatementJson } from '../fleet/policy-json';
import { bedrockInvokerArn } from '../fleet/principals';
import type { AgentPlatformRefs } from './agent-cell';
import { secretArnPattern, UserVault } from './user-vault';

/**
 * What a runtime may do with the relay, and nothing else of the control plane: open a connection to the
 * runtime WebSocket API (execute-api:Invoke on its `$connect`, which API Gateway authorizes with IAM).
 * The runtime has no table access at all: every row it needs read or written goes through the relay
 * (runtime/relay/runtime-rows.ts), in the partition of the session its nonce belongs to.
 */
export const RUNTIME_RELAY_ACTIONS = ['execute-api:Invoke'] as const;

/** Trust policy of a pair's task role: ECS tasks of this account's Cubicle cluster only. */
export function agentTrustPolicy(stack: Stack, config: CubicleConfig, clusterName: string) {
  return policy({
    Sid: 'EcsTasksOfThisAccount',
    Effect: 'Allow',
    Principal: { Service: 'ecs-tasks.amazonaws.com' },
    Action: 'sts:AssumeRole',
    // Confused-deputy guard: only ECS acting for this account, for a task of the Cubicle cluster, may
    // assume the role (the source is the task, `task/<cluster>/<id>`; the cluster's own ARN is listed too).
    Condition: {
      StringEquals: { 'aws:SourceAccount': config.account },
      ArnLike: {
        'aws:SourceArn': [
          `arn:${stack.partition}:ecs:${stack.region}:${config.account}:cluster/${clusterName}`,
          `arn:${stack.partition}:ecs:${stack.region}:${config.account}:task/${clusterName}/*`,
        ],
      },
    },
  });
}

export interface AgentPolicyInput {
  readonly config: CubicleConfig;
  readonly agent: RosterAgentConfig;
  readonly vault: UserVault;
  readonly fileSystem: { readonly fileSystemArn: string };
  readonly platform: AgentPlatformRefs;
  /** The pair's own access point: the only one the role may mount. */
  readonly accessPointArn: string;
}

/** The task role's inline policy. */
export function agentPolicy(stack: Stack, input: AgentPolicyInput) {
  const { config, agent, vault, fileSystem, platform, accessPointArn } = input;
  const readable = ownSecrets(vault.secrets.values(), agent.id);
  const statements: StatementJson[] = [];
  if (readable.length > 0) {
    // By name, not by reference: the user's key and secrets name this role's unique id, so the role may
    // not reference them (a cycle). The key's policy grants the decrypt; the secrets' policies deny the rest.
    const arns = readable.map((s) => `${secretArnPattern(stack, config, s.spec.name)}-??????`);
    statements.push(allow('ReadOwnSecrets', ['secretsmanager:GetSecretValue'], arns));
  }
  statements.push(
    allow(
      'MountOwnAccessPoint',
      ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
      [fileSystem.fileSystemArn],
      {
        StringEquals: { 'elasticfilesystem:AccessPointArn': accessPointArn },
      },
    ),
  );
  statements.push(allow('ConnectToTheRuntimeRelay', [...RUNTIME_RELAY_ACTIONS], [platform.relay.connectArn]));
  if (agent.provider === 'bedrock') {
    // Not the models themselves: a session of the invoker role, which the supervisor hands the CLI (claim 4, docs/isolation-claims.md).
    statements.push(allow('AssumeModelInvokerRole', ['sts:AssumeRole'], [bedrockInvokerArn(stack, config)]));
  }
  return policy(...statements);
}
