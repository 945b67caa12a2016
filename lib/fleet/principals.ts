import { Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import {
  agentRolePath,
  bedrockInvokerRoleName,
  credentialWriterRoleName,
  platformRolePath,
  RECORD_OPENERS,
  RECORD_SEALERS,
  RECORD_WRITERS,
  recordSealerRoleName,
} from '../../runtime/shared/names';
import { CubicleConfig } from '../config/schema';
import { agentRoleName } from './naming';

/**
 * ARNs of the principals the fleet's resource policies name, built from names rather than
 * CloudFormation references: a key or secret policy may then name a role that another stack creates
 * (or that does not exist yet) without coupling the stacks' deploy order. They appear in `aws:PrincipalArn`
 * conditions, never in a Principal element, because IAM rejects a Principal that does not exist.
 */

/** A literal ARN where the partition is known (`Stack.partition` with partition literals on), so reviewers read names. */
function roleArn(scope: IConstruct, config: CubicleConfig, pathAndName: string): string {
  return `arn:${Stack.of(scope).partition}:iam::${config.account}:role/${pathAndName}`;
}

/** A pair's task role (path `/cubicle/<name>/agents/`). */
export function agentRoleArn(scope: IConstruct, config: CubicleConfig, userId: string, agentId: string): string {
  return roleArn(scope, config, `${agentRolePath(config.name).slice(1)}${agentRoleName(config.name, userId, agentId)}`);
}

/**
 * Who may write credentials into a user's secrets — the one place to change it:
 * - the control plane's credential writer (PUT /v1/credentials/...), a role the ControlPlane stack
 *   creates with exactly this name (runtime/shared/names.ts);
 * - for the key only: CloudFormation's execution role, which creates each secret with its placeholder
 *   value (Secrets Manager asks KMS for a data key as the caller). Its name is the CDK bootstrap default
 *   for the configured qualifier.
 */
export function credentialWriterArn(scope: IConstruct, config: CubicleConfig): string {
  return roleArn(scope, config, credentialWriterRoleName(config.name));
}

/** The Bedrock agents' model invoker role (lib/constructs/bedrock-invoker.ts), created by the Platform stack. */
export function bedrockInvokerArn(scope: IConstruct, config: CubicleConfig): string {
  return roleArn(scope, config, `${platformRolePath(config.name).slice(1)}${bedrockInvokerRoleName(config.name)}`);
}

/** Every task role of the deployment, as an `aws:PrincipalArn` pattern. */
export function agentRolesPattern(scope: IConstruct, config: CubicleConfig): string {
  return roleArn(scope, config, `${agentRolePath(config.name).slice(1)}*`);
}

export function cloudFormationExecutionRoleArn(scope: IConstruct, config: CubicleConfig): string {
  return roleArn(scope, config, `cdk-${config.bootstrapQualifier}-cfn-exec-role-${config.account}-${config.region}`);
}

/**
 * The control-plane roles that seal and open employees' records (messages, replies, summaries) under the
 * user keys, for a verified user only (runtime/shared/names.ts RECORD_SEALERS). Bound by name: they live in
 * the ControlPlane stack, which the fleet does not reference; re-creating one means deleting a live role,
 * which CloudTrail records and the security-event rule raises.
 */
export function recordSealerArns(scope: IConstruct, config: CubicleConfig): string[] {
  return RECORD_SEALERS.map((fn) => roleArn(scope, config, recordSealerRoleName(config.name, fn)));
}

/** The control-plane roles that only seal records (RECORD_WRITERS), bound by name like the sealers. */
export function recordWriterArns(scope: IConstruct, config: CubicleConfig): string[] {
  return RECORD_WRITERS.map((fn) => roleArn(scope, config, recordSealerRoleName(config.name, fn)));
}

/** The control-plane roles that only open records for devices (RECORD_OPENERS), bound by name like the sealers. */
export function recordOpenerArns(scope: IConstruct, config: CubicleConfig): string[] {
  return RECORD_OPENERS.map((fn) => roleArn(scope, config, recordSealerRoleName(config.name, fn)));
}
