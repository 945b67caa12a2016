import { z } from 'zod';
import { ID_MAX_LENGTH, ID_PATTERN, ID_RULE, NAME_MAX_LENGTH, NAME_PATTERN, NAME_RULE } from '../../runtime/shared/ids';
import { DEFAULT_SCHEDULED_RUN_MINUTES } from '../../runtime/shared/schedules';
import { SKILL_REF_PATTERN, SKILL_REF_RULE } from '../../runtime/shared/skills';
import { PROVIDERS } from '../../runtime/shared/providers';
import { parseDuration, DURATION_RULE } from './duration';
import { regionSchema } from './regions';
import { compare } from '../util/order';

/**
 * The one schema of the config file (platform settings + roster). Field-level rules live here;
 * rules that relate fields to each other (unique ids, references, budgets) live in cross-checks.ts
 * so that every problem is reported in one run, even when some fields are malformed.
 */

// The provider registry is the one list (runtime/shared/providers.ts).
export { PROVIDERS, PROVIDERS_WITH_SECRET, type Provider } from '../../runtime/shared/providers';

export const OUTBOUND_POLICIES = ['allow', 'confirm', 'deny'] as const;

/** Values CloudWatch Logs accepts for RetentionInDays (PutRetentionPolicy). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Fargate task sizes: cpu units → allowed memory (MiB). https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size */
export const FARGATE_MEMORY_BY_CPU: Readonly<Record<number, readonly number[]>> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096, 1024),
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
  8192: range(16384, 61440, 4096),
  16384: range(32768, 122880, 8192),
};

/** IAM allows at most 5,000 roles per account; each (user, agent) pair has one. */
export const MAX_ROLE_BUDGET = 5000;

/**
 * A list whose order means nothing (hosts, model ids, skills, ...): sorted before it reaches a template,
 * so reordering it in the file changes no resource. Duplicates are reported by cross-checks.ts.
 */
const set = <T extends z.ZodType<string>>(item: T, emptyMessage?: string) =>
  (emptyMessage ? z.array(item).min(1, emptyMessage) : z.array(item)).overwrite((values) => [...values].sort(compare));

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}

const id = (what: string) =>
  z.string().max(ID_MAX_LENGTH, `${what} must be ${ID_RULE}`).regex(ID_PATTERN, `${what} must be ${ID_RULE}`);

const duration = (min: number, max: number, what: string) =>
  z.string().transform((text, ctx) => {
    const seconds = parseDuration(text);
    if (seconds === undefined) {
      ctx.addIssue({ code: 'custom', message: `${what} must be ${DURATION_RULE}, got "${text}"` });
      return z.NEVER;
    }
    if (seconds < min || seconds > max) {
      ctx.addIssue({ code: 'custom', message: `${what} must be between ${min}s and ${max / 3600}h, got "${text}"` });
      return z.NEVER;
    }
    return seconds;
  });

const hostname = z
  .string()
  .max(253)
  .regex(
    /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/,
    'must be a lowercase DNS host name such as api.example.com (no scheme, port, path or wildcard)',
  );

const networkSchema = z
  .strictObject({
    /** NAT gateways for the private subnets' egress: 1 (cheaper) or 2 (one per AZ, survives an AZ outage). */
    natGateways: z.number().int().min(1, 'natGateways must be 1 or 2').max(2, 'natGateways must be 1 or 2').default(1),
    /** Interface endpoints for secretsmanager, kms, logs, ecr.api, ecr.dkr and sts (about $7/month each per AZ). */
    interfaceEndpoints: z.boolean().default(false),
  })
  .prefault({});

const runtimeSchema = z
  .strictObject({
    cpu: z
      .number()
      .refine((v) => v in FARGATE_MEMORY_BY_CPU, {
        message: `cpu must be one of ${Object.keys(FARGATE_MEMORY_BY_CPU).join(', ')} (Fargate CPU units)`,
      })
      .default(1024),
    memoryMiB: z.number().int().positive().default(2048),
    architecture: z.enum(['x86_64', 'arm64']).default('x86_64'),
    /** Hard cap on one task's life; the reaper and the entrypoint both enforce it. */
    maxTaskDuration: duration(300, 24 * 3600, 'maxTaskDuration').prefault('2h'),
    /** An agent with no activity for this long is stopped. */
    idleTimeout: duration(60, 24 * 3600, 'idleTimeout').prefault('15m'),
  })
  .prefault({});

const logsSchema = z
  .strictObject({
    retentionDays: z
      .number()
      .refine((v) => (LOG_RETENTION_DAYS as readonly number[]).includes(v), {
        message: `retentionDays must be a CloudWatch Logs retention value: ${LOG_RETENTION_DAYS.join(', ')}`,
      })
      // 365: Control Tower's CT.CLOUDWATCH.PR.2 minimum; shorter values switch that check off.
      .default(365),
  })
  .prefault({});

const auditSchema = z
  .strictObject({
    /**
     * A CloudTrail trail of this deployment (lib/constructs/audit-trail.ts): management events plus data
     * events of the control-plane tables, encrypted, validated, retained. Off by default: an organization
     * trail usually records management events already. The security events need some trail to fire.
     */
    trail: z.boolean().default(false),
    /**
     * Days every agent event stays locked in the audit archive (lib/constructs/audit-archive.ts: S3 Object
     * Lock in compliance mode, which no one, the root user included, can shorten or lift). Archived events
     * are never expired; the lock is what makes them unchangeable.
     */
    archiveRetentionDays: z
      .number()
      .int()
      .min(1, 'archiveRetentionDays must be at least 1 day')
      .max(36500, 'archiveRetentionDays must be at most 36500 (100 years)')
      .default(365),
  })
  .prefault({});

const identitySchema = z
  .strictObject({
    /** MFA for the default Cognito user pool (ignored with an external OIDC issuer, which owns MFA). */
    mfa: z.enum(['off', 'optional', 'required']).default('required'),
    /** An external OIDC issuer instead of the default Cognito user pool. */
    oidc: z
      .strictObject({
        issuer: z.url({ protocol: /^https$/, error: 'issuer must be an https:// URL' }),
        audience: z.string().min(1, 'audience must not be empty'),
        /** The token claim that holds the employee's email (mapped to a roster user). */
        userClaim: z.string().min(1).default('email'),
      })
      .optional(),
  })
  .prefault({});

const githubSchema = z.strictObject({
  owner: z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/, 'owner must be a GitHub user or organization name'),
  repo: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'repo must be a GitHub repository name'),
  environments: set(
    z.string().regex(/^[A-Za-z0-9._-]{1,255}$/, 'environment names use letters, digits, ".", "_" or "-"'),
    'list at least one GitHub environment',
  ).default(['production']),
  /**
   * ARN of a GitHub OIDC provider that already exists in this account (IAM allows one provider per
   * URL per account). Default: the Pipeline stack creates it.
   */
  oidcProviderArn: z
    .string()
    .regex(
      /^arn:aws:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/,
      'oidcProviderArn must be the ARN of the token.actions.githubusercontent.com provider, e.g. ' +
        'arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com',
    )
    .optional(),
  /**
   * A read-only diff role for `cdk diff` on pull requests, trusted by `repo:OWNER/REPO:pull_request`.
   * Off by default: the role can assume the CDK lookup role, which has ReadOnlyAccess to the account.
   */
  pullRequestDiff: z.boolean({ error: 'pullRequestDiff must be true or false' }).default(false),
  /**
   * The Lambda function the invoke role may call (the control plane's entry for scheduled agent runs).
   * Default: `<name>-scheduled-run`.
   */
  invokeFunctionName: z
    .string()
    .regex(
      /^[A-Za-z0-9_-]{1,64}$/,
      'invokeFunctionName must be a Lambda function name: 1-64 letters, digits, "-" or "_"',
    )
    .optional(),
});

/** CloudFormation's hard limit on resources in one stack. */
export const CLOUDFORMATION_MAX_RESOURCES = 500;
/** Bounds of fleet.maxResourcesPerShard: room for a small user, and headroom under the hard limit. */
export const MIN_RESOURCES_PER_SHARD = 20;
export const MAX_RESOURCES_PER_SHARD = 480;

const fleetSchema = z
  .strictObject({
    /**
     * Resources a Fleet shard stack may hold before new users go to a new shard. Assigned users never
     * move, so the gap to CloudFormation's 500 is the room they have to gain agents and connections.
     */
    maxResourcesPerShard: z
      .number()
      .int()
      .min(MIN_RESOURCES_PER_SHARD, `maxResourcesPerShard must be at least ${MIN_RESOURCES_PER_SHARD}`)
      .max(
        MAX_RESOURCES_PER_SHARD,
        `maxResourcesPerShard must be at most ${MAX_RESOURCES_PER_SHARD}: CloudFormation allows ${CLOUDFORMATION_MAX_RESOURCES} resources per stack, and assigned users need headroom to gain agents`,
      )
      .default(450),
  })
  .prefault({});

/** The one region whose ACM certificates CloudFront can use. */
export const CLOUDFRONT_CERTIFICATE_REGION = 'us-east-1';

/** WAF's bounds on a rate-based rule's limit (requests per evaluation window per IP). */
export const MIN_RATE_LIMIT = 10;
export const MAX_RATE_LIMIT = 2_000_000_000;

const certificateArn = z
  .string()
  .regex(
    /^arn:aws:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/,
    'certificateArn must be an ACM certificate ARN such as arn:aws:acm:us-east-1:111111111111:certificate/1234abcd-12ab-34cd-56ef-1234567890ab',
  )
  .superRefine((arn, ctx) => {
    const region = arn.split(':')[3];
    if (region !== CLOUDFRONT_CERTIFICATE_REGION) {
      ctx.addIssue({
        code: 'custom',
        message: `certificateArn must be a certificate in ${CLOUDFRONT_CERTIFICATE_REGION} (CloudFront only uses ACM certificates from US East (N. Virginia)); this one is in ${region}: request or import the certificate in ${CLOUDFRONT_CERTIFICATE_REGION}`,
      });
    }
  });

const edgeSchema = z
  .strictObject({
    /** AWS managed rule groups of the web ACL, each switchable. */
    managedRules: z
      .strictObject({
        /** AWSManagedRulesCommonRuleSet (OWASP-style checks; body pattern rules only count, see README "Edge"). */
        commonRuleSet: z.boolean().default(true),
        /** AWSManagedRulesKnownBadInputsRuleSet (Log4j, Java deserialization, ...). */
        knownBadInputs: z.boolean().default(true),
        /** AWSManagedRulesAmazonIpReputationList (addresses Amazon threat intelligence flags). */
        ipReputation: z.boolean().default(true),
        /** AWSManagedRulesAnonymousIpList (VPNs, Tor, hosting providers). */
        anonymousIp: z.boolean().default(true),
        /** AWSManagedRulesBotControlRuleSet, common level: $10/month plus $1 per million requests. */
        botControl: z.boolean().default(false),
      })
      .prefault({}),
    /** Requests per 5 minutes from one client IP before WAF answers 429. */
    rateLimit: z
      .number()
      .int('rateLimit must be a whole number of requests')
      .min(MIN_RATE_LIMIT, `rateLimit must be at least ${MIN_RATE_LIMIT} (WAF's minimum)`)
      .max(MAX_RATE_LIMIT, `rateLimit must be at most ${MAX_RATE_LIMIT} (WAF's maximum)`)
      .default(1000),
    /** A custom domain for the API: the host name and its ACM certificate (us-east-1). */
    domain: z
      .strictObject({
        name: hostname,
        certificateArn,
      })
      .optional(),
    /**
     * The version id of the origin-verify secret CloudFront sends; set during a rotation (README "Edge").
     * Default: the version current when the distribution was last updated.
     */
    originSecretVersion: z
      .string()
      .regex(
        /^[A-Za-z0-9-]{32,64}$/,
        'originSecretVersion must be a Secrets Manager version id (32-64 letters, digits or "-", e.g. a UUID)',
      )
      .optional(),
  })
  .prefault({});

const connectionSchema = z.strictObject({
  /** Hosts the agent may reach through this connection (exact names). */
  hosts: set(hostname, 'a connection needs at least one host'),
  /** Whether the connection has a credential, stored per (user, connection). */
  secret: z.boolean().default(false),
});

const skillRef = z.string().regex(SKILL_REF_PATTERN, `skills are ${SKILL_REF_RULE}`);

/** Most schedules one deployment may declare: each is a resource of the ControlPlane stack (500 at most). */
export const MAX_SCHEDULES = 100;
/** Longest text a schedule may post (the API's message limit, runtime/control-plane/api.ts). */
export const MAX_SCHEDULE_TEXT = 32_000;
/** Longest run cap of a scheduled message; cross-checks.ts also keeps it within runtime.maxTaskDuration. */
export const MAX_SCHEDULED_RUN_MINUTES = 24 * 60;

/**
 * EventBridge Scheduler's cron: six fields (minutes hours day-of-month month day-of-week year), one of
 * day-of-month and day-of-week `?`. https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based
 */
export const CRON_RULE =
  'six fields "minutes hours day-of-month month day-of-week year" with "?" in day-of-month or day-of-week, e.g. "0 8 ? * MON-FRI *"';
const CRON_FIELD = /^[0-9A-Za-z*?,/#L W-]+$/;
const cron = z.string().superRefine((text, ctx) => {
  const fields = text.trim().split(/\s+/);
  if (fields.length !== 6 || !fields.every((f) => CRON_FIELD.test(f))) {
    ctx.addIssue({ code: 'custom', message: `cron must be ${CRON_RULE}, got "${text}"` });
  } else if ((fields[2] === '?') === (fields[4] === '?')) {
    ctx.addIssue({
      code: 'custom',
      message: `cron must have "?" in exactly one of day-of-month and day-of-week (Scheduler cannot use both), got "${text}"`,
    });
  }
});

export const RATE_RULE = '"<n> minute(s)|hour(s)|day(s)", e.g. "1 day" or "6 hours"';
const rate = z.string().superRefine((text, ctx) => {
  const m = /^([1-9]\d{0,5}) (minute|minutes|hour|hours|day|days)$/.exec(text.trim());
  if (!m) ctx.addIssue({ code: 'custom', message: `rate must be ${RATE_RULE}, got "${text}"` });
  else if ((m[1] === '1') !== !m[2].endsWith('s')) {
    ctx.addIssue({
      code: 'custom',
      message: `rate "${text}": use the singular unit for 1 and the plural otherwise ("1 hour", "2 hours")`,
    });
  }
});

const timezone = z.string().refine((tz) => tz === 'UTC' || Intl.supportedValuesOf('timeZone').includes(tz), {
  message: 'timezone must be an IANA time zone name such as Europe/Paris or UTC',
});

const scheduleSchema = z
  .strictObject({
    id: id('schedule id'),
    /** When it runs: exactly one of cron (Scheduler's six-field cron) and rate. */
    cron: cron.optional(),
    rate: rate.optional(),
    /** Time zone of the cron expression (daylight saving is followed). */
    timezone: timezone.default('UTC'),
    /** The message posted to the agent's inbox at each run. */
    text: z
      .string()
      .min(1, 'text must not be empty')
      .max(MAX_SCHEDULE_TEXT, `text must be at most ${MAX_SCHEDULE_TEXT} characters`),
    /**
     * Nobody is there to approve an unattended run: `deny` refuses every outbound tool call, a list of
     * hosts allows calls to those hosts only (each must be a host of the agent's connections).
     */
    outbound: z
      .union([z.literal('deny'), set(hostname, 'outbound hosts must list at least one host (or use deny)')], {
        error: 'outbound must be deny or a list of host names',
      })
      .default('deny'),
    /** The CLI run of a scheduled message is stopped after this many minutes. */
    maxRunMinutes: z
      .number()
      .int('maxRunMinutes must be a whole number of minutes')
      .min(1, 'maxRunMinutes must be at least 1')
      .max(MAX_SCHEDULED_RUN_MINUTES, `maxRunMinutes must be at most ${MAX_SCHEDULED_RUN_MINUTES}`)
      .default(DEFAULT_SCHEDULED_RUN_MINUTES),
  })
  .superRefine((schedule, ctx) => {
    if ((schedule.cron === undefined) === (schedule.rate === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['cron'], message: 'a schedule needs exactly one of cron and rate' });
    }
  });

/** A monthly amount in US dollars: positive, at most cents. */
const usd = (what: string) =>
  z
    .number({ error: `${what} must be a number of US dollars` })
    .positive(`${what} must be more than 0`)
    .max(1_000_000, `${what} must be at most 1000000`)
    .refine(
      (n) => Number.isInteger(Math.round(n * 100)) && Math.abs(n * 100 - Math.round(n * 100)) < 1e-6,
      `${what} must have at most two decimals (cents)`,
    );

/** A user's or an agent's own budget: an override of the fleet default and a kill switch. */
const budgetOverrideSchema = z.strictObject({
  monthlyUsd: usd('monthlyUsd').optional(),
  /** Kill switch: refuse every new message (and scheduled run) now, whatever the spend. */
  stopped: z.boolean({ error: 'stopped must be true or false' }).default(false),
});

/** Fleet-wide monthly spend limits (calendar month, UTC); absent, no limit applies and usage is still recorded. */
const budgetsSchema = z.strictObject({
  monthlyUsdPerUser: usd('monthlyUsdPerUser'),
  monthlyUsdPerAgent: usd('monthlyUsdPerAgent').optional(),
});

const agentSchema = z.strictObject({
  id: id('agent id'),
  provider: z.enum(PROVIDERS, { error: `provider must be one of ${PROVIDERS.join(', ')}` }),
  skills: set(skillRef).default([]),
  connections: set(z.string()).default([]),
  /** What happens when a tool call reaches the outside world. */
  outbound: z
    .enum(OUTBOUND_POLICIES, { error: `outbound must be one of ${OUTBOUND_POLICIES.join(', ')}` })
    .default('confirm'),
  /** Messages posted to the agent on a schedule (EventBridge Scheduler → the scheduled-run function). */
  schedules: z.array(scheduleSchema).default([]),
  /** This agent's monthly limit (default: budgets.monthlyUsdPerAgent) and kill switch. */
  budget: budgetOverrideSchema.optional(),
});

const userSchema = z.strictObject({
  id: id('user id'),
  email: z.email('email must be an email address'),
  agents: z.array(agentSchema).min(1, 'a user needs at least one agent'),
  /** This user's monthly limit (default: budgets.monthlyUsdPerUser) and kill switch. */
  budget: budgetOverrideSchema.optional(),
});

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().max(NAME_MAX_LENGTH, `name must be ${NAME_RULE}`).regex(NAME_PATTERN, `name must be ${NAME_RULE}`),
  account: z.string().regex(/^\d{12}$/, 'account must be a 12-digit AWS account id in quotes'),
  region: regionSchema,
  /** The two AZs of the home region; default: the region's "a" and "b" zones. Never looked up. */
  availabilityZones: z
    .tuple([z.string(), z.string()], { error: 'availabilityZones must list exactly two zones' })
    .optional(),
  /** The CDK bootstrap qualifier used in both the home region and us-east-1. */
  bootstrapQualifier: z
    .string()
    .regex(/^[a-z0-9]{1,10}$/, 'bootstrapQualifier must be 1-10 lowercase letters or digits')
    .default('hnb659fds'),
  /** Upper bound on (user, agent) pairs: one IAM role each, IAM's default quota is 1,000 per account. */
  iamRoleBudget: z
    .number()
    .int()
    .positive()
    .max(MAX_ROLE_BUDGET, `iamRoleBudget cannot exceed ${MAX_ROLE_BUDGET} (the IAM roles-per-account hard limit)`)
    .default(1000),
  network: networkSchema,
  fleet: fleetSchema,
  runtime: runtimeSchema,
  logs: logsSchema,
  audit: auditSchema,
  identity: identitySchema,
  edge: edgeSchema,
  github: githubSchema,
  providers: set(
    z.enum(PROVIDERS, { error: `providers must be among ${PROVIDERS.join(', ')}` }),
    'list at least one provider',
  ),
  bedrock: z
    .strictObject({
      /** Model or inference-profile ids the bedrock agents' task roles may invoke. */
      models: set(
        z
          .string()
          .regex(
            /^[a-zA-Z0-9.:_-]+$/,
            'a Bedrock model or inference-profile id such as us.anthropic.claude-sonnet-4-5-20250929-v1:0',
          ),
        'list at least one Bedrock model id',
      ),
    })
    .optional(),
  connections: z.record(id('connection id'), connectionSchema).default({}),
  /** Off unless set (runtime/control-plane/notifications.ts; README "Email notifications"). */
  notifications: z
    .strictObject({
      email: z
        .strictObject({
          /** The platform's own sender; the stack creates its SES identity (SES mails it a verification link once). */
          from: z.email('the sender must be an email address, e.g. cubicle@acme.example'),
          /** An SES identity that is already verified (the sender's domain, or the address), used instead of creating one. */
          identityArn: z
            .string()
            .regex(
              /^arn:aws[a-z-]*:ses:[a-z0-9-]+:\d{12}:identity\/[^\s]+$/,
              'notifications.email.identityArn must be an SES identity ARN such as arn:aws:ses:eu-west-1:111111111111:identity/acme.example',
            )
            .optional(),
        })
        .optional(),
    })
    .default({}),
  budgets: budgetsSchema.optional(),
  users: z.array(userSchema).min(1, 'the roster needs at least one user'),
});

/** What the YAML file may contain (defaults not yet applied). */
export type CubicleConfigInput = z.input<typeof configSchema>;
/** The validated config with defaults applied and durations in seconds. */
export type CubicleConfig = z.output<typeof configSchema>;
export type UserConfig = CubicleConfig['users'][number];
export type RosterAgentConfig = UserConfig['agents'][number];
export type ScheduleConfig = RosterAgentConfig['schedules'][number];
export type ConnectionConfig = CubicleConfig['connections'][string];
export type EdgeConfig = CubicleConfig['edge'];
export type BudgetsConfig = NonNullable<CubicleConfig['budgets']>;
