import { CubicleConfig, RosterAgentConfig, UserConfig } from '../config/schema';
import { homeZones } from '../config/zones';
import { vaultSecrets } from './vault-secrets';

/**
 * How many bytes of a Fleet template a user takes, estimated before synth so that shard planning can keep
 * every shard's template deployable.
 *
 * CloudFormation refuses a template over 1,000,000 bytes (given by S3 URL, as `cdk deploy` does), and CDK
 * warns from 80 % (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
 * A shard full by resource count is not full by bytes: a roster of 10-agent users with 24-character ids
 * renders about 2.4 KB per resource, so 450 resources would be 1.06 MB.
 *
 * The estimate is an upper bound: the constants below were measured on the longest strings the config
 * allows (24-character user, agent and connection ids, a 16-character deployment name, a 14-character
 * region) and rounded up (AGENT_BYTES measured 8,380, SECRET_BYTES 2,397, CONNECTION_READ_BYTES 689,
 * USER_BYTES 3,851; a Bedrock agent takes less than another because it has no provider secret), and the
 * strings the config does not bound (connection hosts, skills, Bedrock models) are counted as they are
 * written into the task definition. test/fleet/template-bytes.test.ts synthesizes varied users and checks
 * that every user's real bytes stay under the estimate and within a fifth of it.
 */

/** CloudFormation's limit on a template's size. */
export const CLOUDFORMATION_MAX_TEMPLATE_BYTES = 1_000_000;

/**
 * New users go to shards whose estimated template stays within this: under CDK's warning (80 % of the
 * limit) even when the estimate is exact, and a third of room for assigned users to gain agents.
 */
export const SHARD_TEMPLATE_BYTES_BUDGET = 750_000;

/** The user's key (its policy's fixed statements) and alias. */
export const USER_BYTES = 4_000;
/** An agent's task definition, task role and access point, and its statements in the key's policy (with the read of its provider's secret). */
export const AGENT_BYTES = 8_500;
/** A vault secret and its resource policy. */
export const SECRET_BYTES = 2_500;
/** An agent reading a connection's secret: the key policy statement, the secret policy's principal and the ARN in the agent's environment. */
export const CONNECTION_READ_BYTES = 750;
/** The shard's file system and the template's own sections; plus one mount target per availability zone. */
export const SHARD_BASE_BYTES = 2_000;
export const MOUNT_TARGET_BYTES = 500;

export function shardBaseTemplateBytes(config: CubicleConfig): number {
  return SHARD_BASE_BYTES + MOUNT_TARGET_BYTES * homeZones(config).length;
}

/** Upper bound of the bytes a user's resources take in their Fleet template. */
export function userTemplateBytes(config: CubicleConfig, user: UserConfig): number {
  const secrets = vaultSecrets(config, user);
  const connectionReads = secrets
    .filter((s) => s.kind === 'connection')
    .reduce((reads, secret) => reads + secret.agentIds.length, 0);
  return (
    USER_BYTES +
    SECRET_BYTES * secrets.length +
    CONNECTION_READ_BYTES * connectionReads +
    user.agents.reduce((bytes, agent) => bytes + AGENT_BYTES + agentStringBytes(config, agent), 0)
  );
}

/** The agent's unbounded strings, as its container environment (lib/fleet/agent-environment.ts) writes them. */
function agentStringBytes(config: CubicleConfig, agent: RosterAgentConfig): number {
  // CUBICLE_CONNECTIONS is JSON inside the template's JSON: its quotes are escaped, so count it encoded twice.
  const connections = agent.connections.reduce(
    (bytes, id) => bytes + jsonInJsonBytes({ id, hosts: config.connections[id]?.hosts ?? [] }) + 1,
    0,
  );
  const skills = agent.skills.join(',').length;
  const models = agent.provider === 'bedrock' ? (config.bedrock?.models ?? []).join(',').length : 0;
  return connections + skills + models;
}

function jsonInJsonBytes(value: unknown): number {
  return JSON.stringify(JSON.stringify(value)).length;
}
