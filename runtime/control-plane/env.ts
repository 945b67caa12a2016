/**
 * Environment of the control-plane functions, validated once at cold start. The CDK side
 * (lib/constructs/control-plane-grants.ts) sets each variable together with the grant it needs, using the
 * names exported here, so a function never gets a name without the permission or the reverse.
 *
 * Checked with the rules of env-rules.ts, not a schema library: each cold start runs them (issue 15).
 */
import { ID_PATTERN } from '../shared/ids';
import { ENV } from '../shared/function-contract';
import {
  checkEnv,
  csv,
  envSchema,
  matching,
  optional,
  positiveMs,
  type EnvOf,
  type EnvSchema,
  type Rule,
} from './env-rules';

export { ENV };
export type { EnvOf };

const tableName = matching(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name');
/** The chain key's ARN: an appender MACs every event it appends (runtime/shared/event-chain.ts). */
export const chainKeyArn = matching(
  /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/,
  'must be a KMS key ARN',
);
const functionName = matching(/^[A-Za-z0-9_-]{1,64}$/, 'must be a Lambda function name');
const deployment = matching(ID_PATTERN, 'must be the deployment name');

const cluster = {
  [ENV.deployment]: deployment,
  [ENV.clusterArn]: matching(/^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster\/.+$/, 'must be an ECS cluster ARN'),
};

/** What the functions that wake, stop and reap need; they start tasks only through the launcher. */
const launch = {
  ...cluster,
  [ENV.maxTaskDurationMs]: positiveMs,
  [ENV.idleTimeoutMs]: positiveMs,
  [ENV.launcherFunction]: functionName,
};

export const API_ENV = envSchema({
  ...launch,
  [ENV.sessionsTable]: tableName,
  [ENV.inboxTable]: tableName,
  [ENV.eventsTable]: tableName,
  [ENV.approvalsTable]: tableName,
  [ENV.chainKey]: chainKeyArn,
  [ENV.idempotencyTable]: tableName,
  [ENV.usageTable]: tableName,
});

/** The scheduled-run function: posts to inboxes (sealed) and wakes agents, like the API's POST /messages. */
export const SCHEDULED_RUN_ENV = envSchema({
  ...launch,
  [ENV.sessionsTable]: tableName,
  [ENV.inboxTable]: tableName,
  [ENV.eventsTable]: tableName,
  [ENV.idempotencyTable]: tableName,
  [ENV.chainKey]: chainKeyArn,
  [ENV.usageTable]: tableName,
});

export const LIFECYCLE_ENV = envSchema({
  ...launch,
  [ENV.sessionsTable]: tableName,
  [ENV.eventsTable]: tableName,
  [ENV.chainKey]: chainKeyArn,
});

/** The launcher: the only function that runs tasks, so the only one that knows their network. */
export const LAUNCHER_ENV = envSchema({
  ...cluster,
  [ENV.subnetIds]: csv(/^subnet-[0-9a-f]+$/, 'subnet id'),
  [ENV.securityGroupIds]: csv(/^sg-[0-9a-f]+$/, 'security group id'),
  [ENV.sessionsTable]: tableName,
  [ENV.eventsTable]: tableName,
  [ENV.chainKey]: chainKeyArn,
});

export const CREDENTIALS_ENV = envSchema({
  [ENV.deployment]: deployment,
  [ENV.eventsTable]: tableName,
  [ENV.chainKey]: chainKeyArn,
});

/** The audit archive's stream consumer: where events go, and where tampering is raised. */
export const ARCHIVE_ENV = envSchema({
  [ENV.archiveBucket]: matching(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name'),
  [ENV.securityTopic]: matching(
    /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/,
    'must be an SNS topic ARN',
  ),
  /** Set when email notifications are on: the archiver hands notified events to this function. */
  [ENV.notifierFunction]: optional(functionName),
});

/** The notifier (runtime/control-plane/notifications.ts). */
export const NOTIFIER_ENV = envSchema({
  [ENV.idempotencyTable]: tableName,
  [ENV.mailFrom]: matching(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'must be an email address'),
  [ENV.consoleUrl]: matching(/^https:\/\/\S+$/, "must be the console's https address"),
});

/** Parses the environment; the error names every wrong variable and its rule, never a value. */
export function parseEnv<E extends EnvSchema<Readonly<Record<string, Rule<unknown>>>>>(
  schema: E,
  env: Readonly<Record<string, string | undefined>> = process.env,
): EnvOf<E> {
  const result = checkEnv(schema, env);
  if (result.ok) return result.value;
  throw new Error(`control-plane environment: ${result.problems.join('; ')}`);
}

export interface LaunchSettings {
  readonly deployment: string;
  readonly clusterArn: string;
  readonly maxTaskDurationMs: number;
  readonly idleTimeoutMs: number;
}

/** Where the launcher runs tasks (lib/constructs/control-plane-grants.ts bindTaskStarter). */
export interface TaskNetwork {
  readonly deployment: string;
  readonly clusterArn: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
}

export function launchSettings(env: EnvOf<typeof LIFECYCLE_ENV>): LaunchSettings {
  return {
    deployment: env[ENV.deployment],
    clusterArn: env[ENV.clusterArn],
    maxTaskDurationMs: env[ENV.maxTaskDurationMs],
    idleTimeoutMs: env[ENV.idleTimeoutMs],
  };
}

export function taskNetwork(env: EnvOf<typeof LAUNCHER_ENV>): TaskNetwork {
  return {
    deployment: env[ENV.deployment],
    clusterArn: env[ENV.clusterArn],
    subnetIds: env[ENV.subnetIds],
    securityGroupIds: env[ENV.securityGroupIds],
  };
}
