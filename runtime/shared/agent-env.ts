import { z } from 'zod';
import { ID_PATTERN } from './ids';
import { TABLES } from './tables';

/**
 * The environment of an agent container: ids, table names and secret ARNs, never secret values.
 * The fleet's task definitions set exactly these variables and the entrypoint validates them.
 */

const id = z.string().regex(ID_PATTERN);
const arn = z.string().regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/);
const positiveMs = z.coerce.number().int().positive();

export const CONNECTION_ENV_SCHEMA = z.array(
  z.object({
    id,
    hosts: z.array(z.string()).min(1),
    /** Present when the connection has a credential for this user. */
    secretArn: arn.optional(),
  }),
);

export const AGENT_ENV_SCHEMA = z.object({
  CUBICLE_DEPLOYMENT: id,
  CUBICLE_USER_ID: id,
  CUBICLE_AGENT_ID: id,
  CUBICLE_PROVIDER: z.enum(['anthropic', 'openai', 'google', 'bedrock']),
  CUBICLE_OUTBOUND_POLICY: z.enum(['allow', 'confirm', 'deny']),
  /** Comma-separated `name@version`; empty for none. */
  CUBICLE_SKILLS: z.string(),
  /** JSON array of { id, hosts, secretArn? }. */
  CUBICLE_CONNECTIONS: z.string().transform((text, ctx) => {
    try {
      return CONNECTION_ENV_SCHEMA.parse(JSON.parse(text));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'CUBICLE_CONNECTIONS must be a JSON array of { id, hosts, secretArn? }' });
      return z.NEVER;
    }
  }),
  /** The provider credential's secret; absent for bedrock (the task role invokes the models). */
  CUBICLE_PROVIDER_SECRET_ARN: arn.optional(),
  /** Comma-separated Bedrock model or inference-profile ids (bedrock provider only). */
  CUBICLE_BEDROCK_MODELS: z.string().optional(),
  CUBICLE_MAX_TASK_DURATION_MS: positiveMs,
  CUBICLE_IDLE_TIMEOUT_MS: positiveMs,
  [TABLES.sessions.envVar]: z.string().min(3),
  [TABLES.inbox.envVar]: z.string().min(3),
  [TABLES.events.envVar]: z.string().min(3),
  [TABLES.approvals.envVar]: z.string().min(3),
});

export type AgentEnv = z.output<typeof AGENT_ENV_SCHEMA>;
/** Variable names the task definition may set (ECS adds AWS_* variables itself). */
export const AGENT_ENV_KEYS = Object.keys(AGENT_ENV_SCHEMA.shape) as (keyof AgentEnv)[];
