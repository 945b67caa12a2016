/**
 * Environment of the control-plane functions, validated once at cold start. The CDK side
 * (lib/constructs/control-plane-grants.ts) sets each variable together with the grant it needs, using the
 * names exported here, so a function never gets a name without the permission or the reverse.
 *
 * zod/mini rather than zod: the full build adds ~450 KB to every bundle and ~30 ms to each cold start.
 */
import * as z from 'zod/mini';
import { ID_PATTERN } from '../shared/ids';
import { ENV } from '../shared/function-contract';

export { ENV };

const tableName = z.string().check(z.regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name'));
const csv = (pattern: RegExp, what: string) =>
  z
    .pipe(
      z.string().check(z.minLength(1, `must list at least one ${what}`)),
      z.transform((text) => text.split(',').map((part) => part.trim())),
    )
    .check(z.refine((parts) => parts.every((p) => pattern.test(p)), `must be comma-separated ${what}s`));
/** The chain key's ARN: an appender MACs every event it appends (runtime/shared/event-chain.ts). */
export const chainKeyArn = z
  .string()
  .check(z.regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/, 'must be a KMS key ARN'));
const positiveMs = z.coerce.number().check(z.int('must be whole milliseconds'), z.positive('must be positive'));

const cluster = {
  [ENV.deployment]: z.string().check(z.regex(ID_PATTERN, 'must be the deployment name')),
  [ENV.clusterArn]: z
    .string()
    .check(z.regex(/^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster\/.+$/, 'must be an ECS cluster ARN')),
};

/** What the functions that wake, stop and reap need; they start tasks only through the launcher. */
const launch = {
  ...cluster,
  [ENV.maxTaskDurationMs]: positiveMs,
  [ENV.idleTimeoutMs]: positiveMs,
  [ENV.launcherFunction]: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a Lambda function name')),
};

export const API_ENV = z.object({
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
export const SCHEDULED_RUN_ENV = z.object({
  ...launch,
  [ENV.sessionsTable]: tableName,
  [ENV.inboxTable]: tableName,
  [ENV.eventsTable]: tableName,
  [ENV.idempotencyTable]: tableName,
  [ENV.chainKey]: chainKeyArn,
  [ENV.usageTable]: tableName,
});

export const LIFECYCLE_ENV = z.object({
  ...launch,
  [ENV.sessionsTable]: tableName,
  [ENV.eventsTable]: tableName,
  [ENV.chainKey]: chainKeyArn,
});

/** The launcher: the only function that runs tasks, so the only one that knows their network. */
export const LAUNCHER_ENV = z.object({
  ...cluster,
  [ENV.subnetIds]: csv(/^subnet-[0-9a-f]+$/, 'subnet id'),
  [ENV.securityGroupIds]: csv(/^sg-[0-9a-f]+$/, 'security group id'),
  [ENV.sessionsTable]: tableName,
  [ENV.eventsTable]: tableName,
  [ENV.chainKey]: chainKeyArn,
});

export const CREDENTIALS_ENV = z.object({
  [ENV.deployment]: z.string().check(z.regex(ID_PATTERN, 'must be the deployment name')),
  [ENV.eventsTable]: tableName,
  [ENV.chainKey]: chainKeyArn,
});

/** The audit archive's stream consumer: where events go, and where tampering is raised. */
export const ARCHIVE_ENV = z.object({
  [ENV.archiveBucket]: z.string().check(z.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name')),
  [ENV.securityTopic]: z
    .string()
    .check(z.regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'must be an SNS topic ARN')),
  /** Set when email notifications are on: the archiver hands notified events to this function. */
  [ENV.notifierFunction]: z.optional(
    z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a Lambda function name')),
  ),
});

/** The notifier (runtime/control-plane/notifications.ts). */
export const NOTIFIER_ENV = z.object({
  [ENV.idempotencyTable]: tableName,
  [ENV.mailFrom]: z.string().check(z.regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'must be an email address')),
  [ENV.consoleUrl]: z.string().check(z.regex(/^https:\/\/\S+$/, "must be the console's https address")),
});

/** Parses the environment; the error names the variables and the rule, never their values. */
export function parseEnv<T extends z.ZodMiniType>(schema: T, env: NodeJS.ProcessEnv = process.env): z.output<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.');
    const rule =
      issue.code === 'invalid_type' ? 'is not set' : issue.message === 'Invalid input' ? 'is malformed' : issue.message;
    return `${name} ${rule}`;
  });
  throw new Error(`control-plane environment: ${problems.join('; ')}`);
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

export function launchSettings(env: z.output<typeof LIFECYCLE_ENV>): LaunchSettings {
  return {
    deployment: env[ENV.deployment],
    clusterArn: env[ENV.clusterArn],
    maxTaskDurationMs: env[ENV.maxTaskDurationMs],
    idleTimeoutMs: env[ENV.idleTimeoutMs],
  };
}

export function taskNetwork(env: z.output<typeof LAUNCHER_ENV>): TaskNetwork {
  return {
    deployment: env[ENV.deployment],
    clusterArn: env[ENV.clusterArn],
    subnetIds: env[ENV.subnetIds],
    securityGroupIds: env[ENV.securityGroupIds],
  };
}
