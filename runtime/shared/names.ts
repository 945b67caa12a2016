/**
 * Names derived from config ids that more than one stack or runtime must agree on without a
 * CloudFormation reference between them (which would tie stacks' deploy order together or create
 * cycles): task families, role paths, secret names, and the credential writer's role name.
 * All are deterministic functions of ids, never of list positions.
 */
import { createHash } from 'node:crypto';

/** IAM path of every per-(user, agent) task role; the control plane's iam:PassRole is scoped to it. */
export function agentRolePath(deployment: string): string {
  return `/cubicle/${deployment}/agents/`;
}

/**
 * Task definition family of one pair. "_" separates user and agent because ids may contain "-":
 * `b-c` + `d` and `b` + `c-d` must not share a family.
 */
export function taskFamily(deployment: string, userId: string, agentId: string): string {
  return `${deployment}-${userId}_${agentId}`;
}

/** Prefix of every family of a deployment, for the control plane's ecs:RunTask resource pattern. */
export function taskFamilyPrefix(deployment: string): string {
  return `${deployment}-`;
}

/** The inverse of `taskFamily`: the pair a family belongs to, or undefined for a family that is not one of this deployment's pairs. */
export function parseTaskFamily(deployment: string, family: string): { userId: string; agentId: string } | undefined {
  const prefix = taskFamilyPrefix(deployment);
  if (!family.startsWith(prefix)) return undefined;
  const match = /^([a-z][a-z0-9-]*)_([a-z][a-z0-9-]*)$/.exec(family.slice(prefix.length));
  return match ? { userId: match[1], agentId: match[2] } : undefined;
}

/** Secrets Manager name of a user's provider credential. */
export function providerSecretName(deployment: string, userId: string, provider: string): string {
  return `cubicle/${deployment}/${userId}/provider/${provider}`;
}

/** Secrets Manager name of a user's credential for one connection. */
export function connectionSecretName(deployment: string, userId: string, connection: string): string {
  return `cubicle/${deployment}/${userId}/connection/${connection}`;
}

/** Prefix of every secret of a deployment. */
export function secretNamePrefix(deployment: string): string {
  return `cubicle/${deployment}/`;
}

/** KMS alias of a user's vault key. */
export function userKeyAlias(deployment: string, userId: string): string {
  return `alias/cubicle/${deployment}/${userId}`;
}

/**
 * Alias of local mode's audit chain key (an HMAC key; in AWS the appenders get its ARN, no alias): outside
 * `alias/cubicle/<name>/`, whose names are user ids.
 */
export function chainKeyAlias(deployment: string): string {
  return `alias/cubicle-local/${deployment}/audit-chain`;
}

/**
 * Role of the control plane's credential writer (PUT /v1/credentials/...). Named so the fleet can
 * put it on every secret's allow-list and key policy by ARN, without depending on the control plane stack.
 */
export function credentialWriterRoleName(deployment: string): string {
  return `${deployment}-credential-writer`;
}

/**
 * Control-plane functions that seal and open employees' records under the user keys
 * (runtime/shared/envelope.ts): the API (messages; opens events and approvals for GET) and the runtime
 * relay (a runtime's events and approval requests). Each runs with a role of a fixed name,
 * `<name>-<function>`, which every user key's policy names (lib/fleet/principals.ts). A function that
 * starts sealing is added here.
 */
export const RECORD_SEALERS = ['api', 'relay-runtime'] as const;
export type RecordSealerFunction = (typeof RECORD_SEALERS)[number];

/**
 * Functions that only seal (GenerateDataKey, never Decrypt): the scheduled-run function posts a schedule's
 * text to an inbox and reads nothing back.
 */
export const RECORD_WRITERS = ['scheduled-run'] as const;
export type RecordWriterFunction = (typeof RECORD_WRITERS)[number];

/**
 * Functions that only open records (Decrypt, never a data key to seal with): the relay's device side
 * (replay after a subscribe) and its fan-out (live events), which hand devices plaintext.
 */
export const RECORD_OPENERS = ['relay-device', 'relay-fanout'] as const;
export type RecordOpenerFunction = (typeof RECORD_OPENERS)[number];

export function recordSealerRoleName(
  deployment: string,
  fn: RecordSealerFunction | RecordWriterFunction | RecordOpenerFunction,
): string {
  return `${deployment}-${fn}`;
}

/**
 * The model invoker role of a deployment's Bedrock agents (lib/constructs/bedrock-invoker.ts): named so
 * each bedrock agent's task role can be allowed to assume it, and its environment can carry its ARN,
 * without a reference from every Fleet stack to the Platform stack. Outside the agents' path, so the
 * control plane's `iam:PassRole` never covers it.
 */
export function bedrockInvokerRoleName(deployment: string): string {
  return `${deployment}-bedrock-invoker`;
}

/** IAM path of the deployment's own roles that are not task roles. */
export function platformRolePath(deployment: string): string {
  return `/cubicle/${deployment}/`;
}

/** `startedBy` on every task the control plane starts (ECS allows 36 characters). */
export const STARTED_BY = 'cubicle-control-plane';

/** IAM caps role names at 64 characters. */
export const ROLE_NAME_MAX_LENGTH = 64;

/**
 * Name of a pair's task role: the pair's task family (`<name>-<user>_<agent>`), so a role in the
 * console, CloudTrail or a key policy reads as the pair it serves. The name is fixed (not generated)
 * so the user's key policy and secret policies can name the role's ARN without a CloudFormation
 * reference to it, and so the relay can map a task's identity back to its pair. A family longer than
 * 64 characters keeps its first 55 and a hash of the whole.
 */
export function agentRoleName(deployment: string, userId: string, agentId: string): string {
  return boundedName(taskFamily(deployment, userId, agentId), ROLE_NAME_MAX_LENGTH);
}

/**
 * `name` if it fits in `max` characters, else its first characters and `-<8 hex of its SHA-256>`: readable,
 * and still one name per input (two long names that share a prefix differ in the digest).
 */
export function boundedName(name: string, max: number): string {
  if (name.length <= max) return name;
  const digest = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, max - digest.length - 1)}-${digest}`;
}
