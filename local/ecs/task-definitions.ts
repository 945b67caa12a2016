/**
 * One task definition per (user, agent) pair, as the fleet registers them: the same family name
 * (runtime/shared/names.ts) and the same container environment (lib/fleet/agent-environment.ts), with
 * the local relay's URL, the user's local key and vault secret ARNs.
 */
import type { CubicleConfig } from '../../lib/config/schema';
import { agentEnvironment, type AgentSecretRef } from '../../lib/fleet/agent-environment';
import { bedrockInvokerRoleName, platformRolePath, taskFamily } from '../../runtime/shared/names';

export interface LocalTaskDefinition {
  readonly family: string;
  readonly arn: string;
  readonly userId: string;
  readonly agentId: string;
  /** The container's environment, exactly as the fleet's task definition sets it. */
  readonly environment: Readonly<Record<string, string>>;
}

export function taskDefinitions(
  config: CubicleConfig,
  secrets: (userId: string) => Iterable<AgentSecretRef>,
  refs: {
    readonly relayUrl: string;
    readonly userKeyArn: (userId: string) => string;
    readonly bedrockRoleArn?: string;
  },
): Map<string, LocalTaskDefinition> {
  const definitions = new Map<string, LocalTaskDefinition>();
  for (const user of config.users) {
    for (const agent of user.agents) {
      const family = taskFamily(config.name, user.id, agent.id);
      definitions.set(family, {
        family,
        arn: `arn:aws:ecs:${config.region}:${config.account}:task-definition/${family}:1`,
        userId: user.id,
        agentId: agent.id,
        environment: agentEnvironment(config, user, agent, {
          secrets: secrets(user.id),
          userKeyArn: refs.userKeyArn(user.id),
          relayUrl: refs.relayUrl,
          bedrockRoleArn: refs.bedrockRoleArn,
        }),
      });
    }
  }
  return definitions;
}

/** The model invoker role's ARN as the Platform stack names it (lib/fleet/principals.ts bedrockInvokerArn). */
export function localBedrockInvokerArn(config: CubicleConfig): string {
  return `arn:aws:iam::${config.account}:role${platformRolePath(config.name)}${bedrockInvokerRoleName(config.name)}`;
}
