import * as z from 'zod/mini';
import { ID_PATTERN } from './ids';
import { parseSkillRef, SKILL_REF_RULE } from './skills';
import { PROVIDERS } from './providers';

/**
 * The environment of an agent container: ids, the relay's URL and secret ARNs, never secret values.
 * The fleet's task definitions set exactly these variables and the entrypoint validates them.
 *
 * zod/mini rather than zod: the supervisor's bundle carries this file, and the full build added ~450 KB
 * to it and tens of milliseconds to every task's start (issue 15). The supervisor loads the English
 * messages itself (runtime/agent/src/config.ts).
 */

/** The runtime relay's stage URL: wss, or ws on loopback only (local mode). */
export const RELAY_URL_PATTERN = /^(wss:\/\/[A-Za-z0-9.-]+(:\d+)?|ws:\/\/(127\.0\.0\.1|localhost)(:\d+)?)\/[\w./-]*$/;

const id = z.string().check(z.regex(ID_PATTERN));
const arn = z.string().check(z.regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/));
const positiveInt = z.coerce.number().check(z.int(), z.positive());
const positiveMs = positiveInt;

export const CONNECTION_ENV_SCHEMA = z.array(
  z.object({
    id,
    hosts: z.array(z.string()).check(z.minLength(1)),
    /** Present when the connection has a credential for this user. */
    secretArn: z.optional(arn),
  }),
);

export const AGENT_ENV_SCHEMA = z.object({
  CUBICLE_DEPLOYMENT: id,
  CUBICLE_USER_ID: id,
  CUBICLE_AGENT_ID: id,
  CUBICLE_PROVIDER: z.enum(PROVIDERS),
  CUBICLE_OUTBOUND_POLICY: z.enum(['allow', 'confirm', 'deny']),
  /** Comma-separated `name@version`; empty for none. */
  CUBICLE_SKILLS: z.string(),
  /** JSON array of { id, hosts, secretArn? }. */
  CUBICLE_CONNECTIONS: z.pipe(
    z.string(),
    z.transform((text, ctx) => {
      try {
        return CONNECTION_ENV_SCHEMA.parse(JSON.parse(text));
      } catch {
        ctx.issues.push({
          code: 'custom',
          message: 'CUBICLE_CONNECTIONS must be a JSON array of { id, hosts, secretArn? }',
          input: text,
        });
        return z.NEVER;
      }
    }),
  ),
  /** The user's KMS key: inbox messages are sealed under it (runtime/shared/envelope.ts); only this key may open them. */
  CUBICLE_USER_KEY_ARN: z.string().check(z.regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/.+$/)),
  /** The provider credential's secret; absent for bedrock (nothing is stored: an IAM role invokes the models). */
  CUBICLE_PROVIDER_SECRET_ARN: z.optional(arn),
  /** Comma-separated Bedrock model or inference-profile ids (bedrock provider only). */
  CUBICLE_BEDROCK_MODELS: z.optional(z.string()),
  /**
   * The deployment's model invoker role (bedrock provider only): the supervisor assumes it for each run and
   * hands the CLI that session, never the task role's (runtime/agent/src/model-credentials.ts).
   */
  CUBICLE_BEDROCK_ROLE_ARN: z.optional(
    z.string().check(z.regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'must be an IAM role ARN')),
  ),
  CUBICLE_MAX_TASK_DURATION_MS: positiveMs,
  CUBICLE_IDLE_TIMEOUT_MS: positiveMs,
  /** The runtime relay (runtime/relay/runtime-side.ts): the runtime's only way to the control plane's tables. */
  CUBICLE_RELAY_URL: z.string().check(z.regex(RELAY_URL_PATTERN, "must be the runtime relay's wss:// URL")),
});

export type AgentEnv = z.output<typeof AGENT_ENV_SCHEMA>;
/** Variable names the task definition may set (ECS adds AWS_* variables itself). */
export const AGENT_ENV_KEYS = Object.keys(AGENT_ENV_SCHEMA.shape) as (keyof AgentEnv)[];

/**
 * Rules across variables; the entrypoint refuses to start when any fails. The fleet can run the same
 * check over the environment it puts in a task definition.
 */
export function agentEnvProblems(env: AgentEnv): string[] {
  const problems: string[] = [];
  if (env.CUBICLE_PROVIDER === 'bedrock') {
    if (env.CUBICLE_PROVIDER_SECRET_ARN)
      problems.push('CUBICLE_PROVIDER_SECRET_ARN: must be absent for bedrock (an IAM role invokes the models)');
    if (!env.CUBICLE_BEDROCK_MODELS?.split(',').some((m) => m.trim().length > 0)) {
      problems.push('CUBICLE_BEDROCK_MODELS: required for bedrock (comma-separated model or inference-profile ids)');
    }
    if (!env.CUBICLE_BEDROCK_ROLE_ARN)
      problems.push('CUBICLE_BEDROCK_ROLE_ARN: required for bedrock (the role whose sessions invoke the models)');
  } else if (env.CUBICLE_BEDROCK_ROLE_ARN) {
    problems.push(
      `CUBICLE_BEDROCK_ROLE_ARN: only bedrock agents get the model invoker role, not ${env.CUBICLE_PROVIDER}`,
    );
  } else if (!env.CUBICLE_PROVIDER_SECRET_ARN) {
    problems.push(`CUBICLE_PROVIDER_SECRET_ARN: required for ${env.CUBICLE_PROVIDER}`);
  }
  for (const skill of env.CUBICLE_SKILLS.split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!parseSkillRef(skill)) problems.push(`CUBICLE_SKILLS: "${skill}" is not ${SKILL_REF_RULE}`);
  }
  return problems;
}

/** Grace between SIGTERM and SIGKILL for the agent CLI (design: 30 s). */
export const AGENT_STOP_GRACE_MS_DEFAULT = 30_000;
/**
 * The container's ECS `stopTimeout` must leave room for the grace plus writing the final events;
 * Fargate allows at most 120 s.
 */
export const AGENT_CONTAINER_STOP_TIMEOUT_SECONDS = 45;

/**
 * Knobs with production defaults. The fleet does not set them; tests shorten them.
 */
export const AGENT_TUNING_SCHEMA = z.object({
  CUBICLE_STOP_GRACE_MS: z._default(z.coerce.number().check(z.int(), z.nonnegative()), AGENT_STOP_GRACE_MS_DEFAULT),
  /** Safety re-read of the inbox while connected (new messages are pushed as nudges). */
  CUBICLE_POLL_INTERVAL_MS: z._default(positiveMs, 60_000),
  CUBICLE_HEARTBEAT_INTERVAL_MS: z._default(positiveMs, 60_000),
  /** Below the hooks' 900 s timeout in policy/ (a timed-out hook would not block the call). */
  CUBICLE_APPROVAL_TIMEOUT_MS: z._default(positiveMs.check(z.lte(14 * 60_000)), 10 * 60_000),
  /** Safety re-read of a pending approval (decisions are pushed as nudges). */
  CUBICLE_APPROVAL_POLL_MS: z._default(positiveMs, 30_000),
  /** How long start-up waits for the relay to hand over the session's nonce. */
  CUBICLE_RELAY_START_TIMEOUT_MS: z._default(positiveMs, 120_000),
  CUBICLE_MAX_MESSAGE_ATTEMPTS: z._default(positiveInt, 2),
  /** The supervisor's ephemeral directory (the task's /tmp volume). */
  CUBICLE_RUN_DIR: z._default(z.string().check(z.minLength(1)), '/tmp/cubicle'),
  /**
   * Shared with the workbench container (an ephemeral bind-mount volume): the supervisor's workbench and
   * guard sockets, nothing else (runtime/agent/src/workbench-protocol.ts).
   */
  CUBICLE_EXCHANGE_DIR: z._default(z.string().check(z.minLength(1)), '/run/cubicle'),
  /** How long start-up waits for the workbench's daemon to connect. */
  CUBICLE_WORKBENCH_START_TIMEOUT_MS: z._default(positiveMs, 120_000),
  CUBICLE_WORKSPACE: z._default(z.string().check(z.minLength(1)), '/workspace'),
  CUBICLE_SKILLS_SOURCE: z._default(z.string().check(z.minLength(1)), '/opt/cubicle/skills'),
});
export type AgentTuning = z.output<typeof AGENT_TUNING_SCHEMA>;
