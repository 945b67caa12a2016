/**
 * Short-lived credentials a Bedrock agent's CLI invokes its models with (claim 4, docs/isolation-claims.md).
 *
 * The task role stays with the supervisor: it may do one thing for the CLI, assume the deployment's model
 * invoker role (lib/constructs/bedrock-invoker.ts), which may only `bedrock:InvokeModel*` the configured
 * models. The session it gets is handed to the workbench with each run (workbench-protocol.ts, `model`)
 * and never lives longer than an hour: STS caps a role-chained session at one hour
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining).
 */
import type { AssumeRoleCommandOutput } from '@aws-sdk/client-sts';
import { boundedName } from '../../shared/names';

/** The three variables an AWS SDK reads static credentials from; the only AWS identity the CLI ever gets. */
export interface ModelCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

/** The STS call, injected (the entrypoint loads the STS client only for Bedrock agents). */
export type AssumeModelRole = (request: {
  roleArn: string;
  sessionName: string;
  durationSeconds: number;
}) => Promise<AssumeRoleCommandOutput>;

/** STS's ceiling for a role-chained session (the task role assuming the invoker role). */
export const MODEL_SESSION_SECONDS = 3600;
/**
 * A run starts with at least this much left: a session with less is replaced first. A run that lasts
 * longer than what is left loses model access mid-run (README, "Bedrock agents").
 */
export const MODEL_SESSION_MIN_REMAINING_MS = 50 * 60_000;

/** RoleSessionName: `<user>.<agent>` for CloudTrail (2–64 of `[\w+=,.@-]`; ids are `[a-z0-9-]`). */
export function modelSessionName(userId: string, agentId: string): string {
  return boundedName(`${userId}.${agentId}`, 64);
}

export class ModelCredentialSource {
  private current: ModelCredentials | undefined;
  private pending: Promise<ModelCredentials> | undefined;

  constructor(
    private readonly o: {
      readonly assume: AssumeModelRole;
      readonly roleArn: string;
      readonly sessionName: string;
      readonly now: () => number;
      /** Every value handed out is added here so no log line can carry it. */
      readonly redact: (secret: string) => void;
    },
  ) {}

  /** Credentials for one run: the cached session while it has enough left, else a new one. */
  forRun(): Promise<ModelCredentials> {
    const current = this.current;
    if (current && current.expiresAt - this.o.now() >= MODEL_SESSION_MIN_REMAINING_MS) return Promise.resolve(current);
    this.pending ??= this.assume().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async assume(): Promise<ModelCredentials> {
    const out = await this.o.assume({
      roleArn: this.o.roleArn,
      sessionName: this.o.sessionName,
      durationSeconds: MODEL_SESSION_SECONDS,
    });
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration)
      throw new Error('STS returned no credentials for the model invoker role');
    for (const secret of [c.SecretAccessKey, c.SessionToken]) this.o.redact(secret);
    this.current = {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiresAt: c.Expiration.getTime(),
    };
    return this.current;
  }
}

/** The variables the workbench sets for the CLI from a run's `model` field (and from nothing else). */
export function modelCredentialVariables(
  c: Pick<ModelCredentials, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>,
): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: c.accessKeyId,
    AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
    AWS_SESSION_TOKEN: c.sessionToken,
  };
}
