/**
 * What the CDK app (lib/) and the functions it deploys must agree on without a CloudFormation reference:
 * the environment variable names each function reads, the roster file bundled beside the functions and
 * its shape, and the header CloudFront adds to origin requests. lib/ imports these from here (and the
 * route registry, runtime/control-plane/routes.ts); the handlers' modules re-export them beside the
 * schemas that validate them. ESLint's boundary rule and test/app/boundary.test.ts keep lib/ from
 * importing any other runtime module.
 */
import type { BudgetLimits } from './budget';
import { CHAIN_KEY_ENV } from './chain-key';
import type { DeclaredSchedule } from './schedules';
import { TABLES } from './tables';

/**
 * Environment of the control-plane functions (validated by runtime/control-plane/env.ts); the CDK side
 * (lib/constructs/control-plane-grants.ts) sets each variable together with the grant it needs.
 */
export const ENV = {
  deployment: 'CUBICLE_DEPLOYMENT',
  clusterArn: 'CUBICLE_CLUSTER_ARN',
  subnetIds: 'CUBICLE_SUBNET_IDS',
  securityGroupIds: 'CUBICLE_SECURITY_GROUP_IDS',
  maxTaskDurationMs: 'CUBICLE_MAX_TASK_DURATION_MS',
  idleTimeoutMs: 'CUBICLE_IDLE_TIMEOUT_MS',
  /** The launcher function's name (lib/constructs/launcher-function.ts), for those that wake agents. */
  launcherFunction: 'CUBICLE_LAUNCHER_FUNCTION',
  sessionsTable: TABLES.sessions.envVar,
  inboxTable: TABLES.inbox.envVar,
  eventsTable: TABLES.events.envVar,
  approvalsTable: TABLES.approvals.envVar,
  /** The audit chain's KMS HMAC key, for every function that appends events (lib/constructs/audit-archive.ts). */
  chainKey: CHAIN_KEY_ENV,
  /** The audit archive's bucket and the security-event topic (lib/constructs/audit-archive.ts). */
  archiveBucket: 'CUBICLE_AUDIT_ARCHIVE_BUCKET',
  securityTopic: 'CUBICLE_SECURITY_EVENTS_TOPIC_ARN',
  idempotencyTable: TABLES.idempotency.envVar,
  usageTable: TABLES.usage.envVar,
  /** Email notifications (lib/constructs/email-notifications.ts): the notifier's name for the archiver, its sender and the console's address. */
  notifierFunction: 'CUBICLE_NOTIFIER_FUNCTION',
  mailFrom: 'CUBICLE_NOTIFY_FROM',
  consoleUrl: 'CUBICLE_CONSOLE_URL',
} as const;

/** Environment of the relay functions (validated by runtime/relay/env.ts; set by lib/constructs/relay.ts). */
export const RELAY_ENV = {
  deployment: 'CUBICLE_DEPLOYMENT',
  account: 'CUBICLE_ACCOUNT',
  /** Callback URLs (`https://<api>.execute-api.<region>.amazonaws.com/<stage>`) of the two WebSocket APIs. */
  deviceEndpoint: 'CUBICLE_RELAY_DEVICE_ENDPOINT',
  runtimeEndpoint: 'CUBICLE_RELAY_RUNTIME_ENDPOINT',
  sessionsTable: TABLES.sessions.envVar,
  inboxTable: TABLES.inbox.envVar,
  eventsTable: TABLES.events.envVar,
  approvalsTable: TABLES.approvals.envVar,
  connectionsTable: TABLES.connections.envVar,
  usageTable: TABLES.usage.envVar,
  chainKey: CHAIN_KEY_ENV,
} as const;

/** Environment variables of every function that verifies tokens (set by lib/constructs/identity.ts). */
export const TOKEN_ENV = {
  kind: 'CUBICLE_TOKEN_KIND',
  issuer: 'CUBICLE_TOKEN_ISSUER',
  audience: 'CUBICLE_TOKEN_AUDIENCE',
  jwksUri: 'CUBICLE_TOKEN_JWKS_URI',
} as const;

/** The header CloudFront adds to origin requests (lower case: API Gateway v2 lower-cases header names). */
export const ORIGIN_VERIFY_HEADER = 'x-cubicle-origin-verify';
/** Environment variable with the ARN of the origin-verify secret (set with its grant by the CDK side). */
export const ORIGIN_VERIFY_SECRET_ENV = 'CUBICLE_ORIGIN_VERIFY_SECRET_ARN';

/** The roster directory bundled with the functions (runtime/control-plane/roster.ts reads it; lib/constructs/control-plane-roster.ts writes it). */
export const ROSTER_FILE_NAME = 'roster.json';

export type IdentitySource =
  /** Default Cognito user pool: the username is the roster user id (access token `username`, ID token `cognito:username`). */
  | { readonly kind: 'cognito' }
  /** External OIDC issuer: `claim` holds the employee's email, matched case-insensitively to the roster. */
  | { readonly kind: 'oidc'; readonly claim: string };

export interface RosterAgent {
  readonly id: string;
  readonly provider: string;
  /** Whether the provider keeps a stored credential (false for bedrock). */
  readonly providerSecret: boolean;
  /** Connections of this agent that have a per-user credential. */
  readonly secretConnections: readonly string[];
  /** Schedules declared for this agent in the config (absent when none); only the scheduled-run function reads them. */
  readonly schedules?: readonly DeclaredSchedule[];
  /** Monthly limits and kill switches of this (user, agent) (absent when the config sets no budgets and no switch is on). */
  readonly budget?: BudgetLimits;
}

export interface RosterUser {
  readonly id: string;
  readonly email: string;
  readonly agents: readonly RosterAgent[];
}

export interface RosterDirectory {
  readonly identity: IdentitySource;
  readonly users: readonly RosterUser[];
}
