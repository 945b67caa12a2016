/**
 * The wire between the supervisor and the workbench (the container, or local process, where the provider
 * CLI and its tools run): JSON lines over a unix socket in the exchange directory, the only thing the two
 * share besides the workspace. The supervisor listens; the workbench's daemon connects once at start and
 * is the only peer the supervisor accepts. The CLI never sees this socket's traffic: its stdout and stderr
 * are pipes of the daemon, forwarded line by line to the supervisor, which redacts before logging.
 */

/** Default exchange directory: an ephemeral bind-mount volume mounted in both containers. */
export const DEFAULT_EXCHANGE_DIR = '/run/cubicle';
export const WORKBENCH_SOCKET = 'workbench.sock';
/** The workspace's directory that holds the CLI's kept home (`<workspace>/.cubicle/home`); the guard treats it as a home, not as the workspace. */
export const CLI_STATE_DIR = '.cubicle';
export const GUARD_SOCKET = 'guard.sock';

/** workbench → supervisor, first line: where the CLI's home and temporary files live in the workbench. */
export interface Hello {
  readonly t: 'hello';
  readonly v: 1;
  readonly pid: number;
  readonly runDir: string;
  /** The CLI's home: on the pair's EFS access point, so its sessions and memory files outlive the task. */
  readonly home: string;
  readonly tmp: string;
  readonly path: string;
  /**
   * A CLI run already finished in this home (an earlier wake): the first message of this wake continues the
   * CLI's latest conversation instead of starting a new one. Only the CLI's own conversation is at stake.
   */
  readonly resumable?: boolean;
}

/** A session of the model invoker role: may only invoke the configured Bedrock models. */
export interface ModelSession {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

export interface FileToPlace {
  readonly path: string;
  readonly content: string;
}

/** supervisor → workbench. */
export type ToWorkbench =
  | { readonly t: 'prepare'; readonly skills: readonly string[]; readonly directories: readonly string[] }
  | {
      readonly t: 'run';
      readonly id: string;
      readonly command: string;
      readonly args: readonly string[];
      readonly env: Readonly<Record<string, string>>;
      readonly cwd: string;
      readonly stdin: string;
      /**
       * Credential files the CLI reads from its home: written mode 0600 in an ephemeral per-run directory
       * (the task's /tmp, never the EFS home), reached from the home through a symbolic link; both are
       * removed when the run ends.
       */
      readonly files: readonly FileToPlace[];
      /**
       * Bedrock agents only: the short-lived model session (model-credentials.ts). The daemon sets the three
       * static credential variables from this field alone; `env` never carries an AWS identity.
       */
      readonly model?: ModelSession;
    }
  | { readonly t: 'stop'; readonly id: string; readonly graceMs: number };

/** workbench → supervisor, after the hello. */
export type FromWorkbench =
  | Hello
  | { readonly t: 'prepared'; readonly skills: readonly string[] }
  | { readonly t: 'prepare-failed'; readonly error: string }
  | { readonly t: 'started'; readonly id: string; readonly pid?: number }
  | { readonly t: 'stdout' | 'stderr'; readonly id: string; readonly line: string }
  | {
      readonly t: 'exit';
      readonly id: string;
      readonly code: number | null;
      readonly signal: string | null;
      readonly killed: boolean;
      readonly spawnError?: string;
    }
  | {
      readonly t: 'log';
      readonly level: 'info' | 'warn' | 'error';
      readonly msg: string;
      readonly fields?: Record<string, unknown>;
    };

/**
 * Variables that name or reach an AWS identity or the task's metadata. ECS injects the credentials URI
 * (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) and the metadata URIs (ECS_CONTAINER_METADATA_URI[_V4],
 * ECS_AGENT_URI) into every container of a task with a task role, the workbench included:
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-fargate.html
 * The workbench's entrypoint (runtime/agent/workbench-env.sh) starts from an empty environment; the
 * daemon refuses to start if one of these still reached it, and never passes one to the CLI.
 */
export function isIdentityVariable(name: string): boolean {
  if (/^AWS_(DEFAULT_)?REGION$/.test(name)) return false; // where, not who
  return /^(AWS_|ECS_)/i.test(name) || /CONTAINER_(CREDENTIALS|METADATA|AUTHORIZATION)/i.test(name);
}

/** Largest line either side accepts (a CLI line is cut at 1 MiB by the daemon; JSON adds escaping). */
export const MAX_FRAME = 8 * 1024 * 1024;

/** Splits a stream into JSON frames; a line that is not JSON, or too long, ends the link. */
export function frameReader(
  onFrame: (frame: Record<string, unknown>) => void,
  onBad: (why: string) => void,
): (chunk: string) => void {
  let buffer = '';
  return (chunk) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      let frame: unknown;
      try {
        frame = JSON.parse(line);
      } catch {
        return onBad('unreadable frame');
      }
      if (
        !frame ||
        typeof frame !== 'object' ||
        Array.isArray(frame) ||
        typeof (frame as { t?: unknown }).t !== 'string'
      )
        return onBad('frame without a type');
      onFrame(frame as Record<string, unknown>);
    }
    if (buffer.length > MAX_FRAME) onBad('frame too large');
  };
}
