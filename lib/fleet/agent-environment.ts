import type { z } from 'zod';
import type { AGENT_ENV_SCHEMA } from '../../runtime/shared/agent-env';
import type { RosterAgentConfig, CubicleConfig, UserConfig } from '../config/schema';
import { compare } from '../util/order';
import { type VaultSecretSpec } from './vault-secrets';

/** A secret of the user's vault and its ARN (a CloudFormation reference in a template, a string locally). */
export interface AgentSecretRef {
  readonly spec: VaultSecretSpec;
  readonly arn: string;
}

/** Every variable of the agent container (runtime/shared/agent-env.ts); undefined = not set. */
type AgentEnvironment = Record<keyof z.input<typeof AGENT_ENV_SCHEMA>, string | undefined>;

/** The vault secrets one agent may read: its provider's and its connections' (never another agent's). */
export function ownSecrets<T extends AgentSecretRef>(secrets: Iterable<T>, agentId: string): T[] {
  return [...secrets].filter((s) => s.spec.agentIds.includes(agentId));
}

/**
 * The environment of one pair's agent container: ids, the relay's URL, its user's key ARN and secret ARNs,
 * never secret values.
 * The fleet's task definitions (lib/constructs/agent-cell.ts) and local mode (local/ecs) both set exactly
 * this, so an agent sees the same variables wherever it runs.
 *
 * The connections list is plain `JSON.stringify` in a template too. Its ARNs are string tokens there (each a
 * `Ref` of a secret), which JSON leaves as they are, and CDK renders the string as an `Fn::Join` around each
 * `Ref`: the same template `stack.toJsonString` writes. `toJsonString` would also re-render the whole list on
 * each of CDK's two passes over the template, which cost ~0.75 s at 5,000 pairs (issue 15). An ARN holds no
 * character JSON must escape.
 */
export function agentEnvironment(
  config: CubicleConfig,
  user: UserConfig,
  agent: RosterAgentConfig,
  refs: {
    readonly secrets: Iterable<AgentSecretRef>;
    /** The user's KMS key: the runtime opens its sealed inbox messages with it. */
    readonly userKeyArn: string;
    /** The runtime relay's stage URL (the runtime's only way to the control plane). */
    readonly relayUrl: string;
    /** The deployment's model invoker role (set for bedrock agents only). */
    readonly bedrockRoleArn?: string;
  },
): Record<string, string> {
  const own = ownSecrets(refs.secrets, agent.id);
  const providerSecret = own.find((s) => s.spec.kind === 'provider' && s.spec.id === agent.provider);
  const connections = [...agent.connections].sort(compare).map((connectionId) => {
    const secret = own.find((s) => s.spec.kind === 'connection' && s.spec.id === connectionId);
    return {
      id: connectionId,
      hosts: config.connections[connectionId].hosts,
      ...(secret ? { secretArn: secret.arn } : {}),
    };
  });
  const environment: AgentEnvironment = {
    CUBICLE_DEPLOYMENT: config.name,
    CUBICLE_USER_ID: user.id,
    CUBICLE_AGENT_ID: agent.id,
    CUBICLE_PROVIDER: agent.provider,
    CUBICLE_OUTBOUND_POLICY: agent.outbound,
    CUBICLE_SKILLS: [...agent.skills].sort(compare).join(','),
    CUBICLE_CONNECTIONS: JSON.stringify(connections),
    CUBICLE_PROVIDER_SECRET_ARN: providerSecret?.arn,
    CUBICLE_USER_KEY_ARN: refs.userKeyArn,
    CUBICLE_BEDROCK_MODELS: agent.provider === 'bedrock' ? (config.bedrock?.models ?? []).join(',') : undefined,
    CUBICLE_BEDROCK_ROLE_ARN: agent.provider === 'bedrock' ? refs.bedrockRoleArn : undefined,
    CUBICLE_MAX_TASK_DURATION_MS: String(config.runtime.maxTaskDuration * 1000),
    CUBICLE_IDLE_TIMEOUT_MS: String(config.runtime.idleTimeout * 1000),
    CUBICLE_RELAY_URL: refs.relayUrl,
  };
  return Object.fromEntries(
    Object.entries(environment).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}
