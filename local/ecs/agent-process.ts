/**
 * Runs a local task as the task definition's two containers: the agent image's supervisor (the committed
 * bundle runtime/agent/dist/entrypoint.cjs, what the image runs) as its own process group, with
 * - the task definition's environment, plus what Fargate and the image provide: the task role's
 *   credentials (its own access keys, revoked when the task stops), the task metadata endpoint, and the
 *   AWS endpoints of the local stand-ins;
 * - its own workspace (`<data>/workspaces/<user>/<agent>`, kept) and an ephemeral directory for the
 *   guard socket and the CLI's credential files (the task's /tmp, removed when the task stops); the CLI's
 *   home (conversations) is kept in the workspace's .cubicle/home, as on the pair's access point in AWS;
 * and the workbench daemon (runtime/agent/dist/workbench.cjs) as a second process with an environment of
 * its own: no AWS variable, no task metadata, only the exchange directory, its home and the stand-in
 * provider CLI first on its PATH (or the machine's PATH with --real-providers). The two share only the
 * exchange directory (the supervisor's sockets) and the workspace. Locally both run as the same OS user
 * (in AWS the workbench has its own uid and PID namespace: lib/constructs/agent-containers.ts).
 * Nothing else from local mode's own environment reaches either.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { CredentialStore } from '../aws/principals';
import type { LogSink } from '../logs';
import { AGENT_DIST, seedHookSettings } from '../provider-cli/hooks';
import type { TaskLauncher, TaskRecord } from './cluster';
import { groupsUnder, signalGroup } from './processes';
import type { LocalTaskDefinition } from './task-definitions';

const REPO = path.join(__dirname, '..', '..');
export const ENTRYPOINT = path.join(AGENT_DIST, 'entrypoint.cjs');
export const WORKBENCH = path.join(AGENT_DIST, 'workbench.cjs');
const SKILLS = path.join(REPO, 'runtime', 'agent', 'skills');
export const STAND_IN_BIN = path.join(REPO, 'local', 'provider-cli', 'bin');

/**
 * Tuning knobs (runtime/shared/agent-env.ts AGENT_TUNING_SCHEMA) local mode changes from the production
 * defaults: Ctrl-C should not wait 30 s for each agent CLI. (Messages and decisions are pushed by the
 * relay, as in AWS.)
 */
export const LOCAL_AGENT_TUNING = {
  CUBICLE_STOP_GRACE_MS: '5000',
} as const;

export interface AgentLaunchSettings {
  readonly region: string;
  readonly vaultEndpoint: string;
  /** Base URL of the ECS stand-in (its task metadata endpoint). */
  readonly ecsEndpoint: string;
  readonly workspaces: string;
  readonly realProviders: boolean;
  readonly credentials: CredentialStore;
  /**
   * Admits a task's credentials where AWS would know its role session (the runtime relay's IAM check);
   * returns the revocation, called when the task stops.
   */
  readonly admit?: (
    task: TaskRecord,
    definition: LocalTaskDefinition,
    keys: { readonly accessKeyId: string; readonly secretAccessKey: string },
  ) => () => void;
  readonly logs: LogSink;
  /** Extra tuning (tests); merged over LOCAL_AGENT_TUNING. */
  readonly tuning?: Readonly<Record<string, string>>;
}

export class AgentProcessLauncher implements TaskLauncher {
  private readonly running = new Map<
    string,
    { taskDir: string; accessKeyId: string; revoke: () => void; workbench?: ChildProcess }
  >();

  constructor(private readonly settings: AgentLaunchSettings) {}

  async start(
    task: TaskRecord,
    definition: LocalTaskDefinition,
    exited: (code: number | null, signal: NodeJS.Signals | null) => void,
  ): Promise<{ pid: number }> {
    const s = this.settings;
    const workspace = path.join(s.workspaces, definition.userId, definition.agentId);
    mkdirSync(workspace, { recursive: true, mode: 0o700 });
    const taskDir = mkdtempSync(path.join(tmpdir(), 'cubicle-task-'));
    const runDir = path.join(taskDir, 'run');
    const workbenchDir = path.join(taskDir, 'workbench');
    // The CLI's home on the pair's kept directory, where AWS keeps it on the access point (DEFAULT_HOME_DIR):
    // its conversations survive a wake here too. The hook settings are rewritten at every start.
    const cliHome = path.join(workspace, '.cubicle', 'home');
    const exchangeDir = path.join(taskDir, 'exchange');
    const hookDir = path.join(taskDir, 'opt');
    try {
      symlinkSync(AGENT_DIST, hookDir);
      seedHookSettings(cliHome, hookDir);
    } catch (error) {
      rmSync(taskDir, { recursive: true, force: true });
      throw error;
    }
    const keys = s.credentials.issue({
      kind: 'agent',
      userId: definition.userId,
      agentId: definition.agentId,
      taskArn: task.taskArn,
    });
    const revoke = s.admit?.(task, definition, keys) ?? (() => undefined);
    this.running.set(task.taskArn, { taskDir, accessKeyId: keys.accessKeyId, revoke });

    const cliPath = s.realProviders
      ? (process.env.PATH ?? '')
      : [STAND_IN_BIN, path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':');
    const env: Record<string, string> = {
      ...definition.environment,
      ...LOCAL_AGENT_TUNING,
      ...s.tuning,
      PATH: [path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
      HOME: path.join(runDir, 'home'),
      LANG: 'C.UTF-8',
      NODE_ENV: 'production',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      CUBICLE_RUN_DIR: runDir,
      CUBICLE_EXCHANGE_DIR: exchangeDir,
      CUBICLE_WORKSPACE: workspace,
      CUBICLE_SKILLS_SOURCE: SKILLS,
      AWS_REGION: s.region,
      AWS_DEFAULT_REGION: s.region,
      AWS_ACCESS_KEY_ID: keys.accessKeyId,
      AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: s.vaultEndpoint,
      AWS_ENDPOINT_URL_KMS: s.vaultEndpoint,
      AWS_ENDPOINT_URL_STS: s.vaultEndpoint,
      ECS_CONTAINER_METADATA_URI_V4: `${s.ecsEndpoint}/v4/${task.metadataToken}`,
    };
    const child = spawn(process.execPath, [ENTRYPOINT], {
      cwd: workspace,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = path.join('agents', definition.userId, `${definition.agentId}.log`);
    s.logs.follow(child.stdout!, log, `${definition.userId}/${definition.agentId}`);
    s.logs.follow(child.stderr!, log, `${definition.userId}/${definition.agentId}`);
    // The workbench's own output is discarded, as its entrypoint does in AWS: the CLI's lines reach the
    // supervisor over the socket and the log only through its redactor.
    const workbenchEnv: Record<string, string> = {
      PATH: cliPath,
      HOME: path.join(workbenchDir, 'home'),
      LANG: 'C.UTF-8',
      NODE_ENV: 'production',
      CUBICLE_EXCHANGE_DIR: exchangeDir,
      CUBICLE_RUN_DIR: workbenchDir,
      CUBICLE_HOME_DIR: cliHome,
      CUBICLE_SKILLS_SOURCE: SKILLS,
    };
    const workbench = spawn(process.execPath, [WORKBENCH], {
      cwd: workspace,
      env: workbenchEnv,
      detached: true,
      stdio: 'ignore',
    });
    workbench.once('error', () => undefined);
    this.running.get(task.taskArn)!.workbench = workbench;
    return new Promise((resolve, reject) => {
      child.once('spawn', () => {
        child.once('exit', (code, signal) => exited(code, signal));
        resolve({ pid: child.pid! });
      });
      child.once('error', (error) => {
        this.cleanup(task);
        reject(error);
      });
    });
  }

  cleanup(task: TaskRecord): void {
    const run = this.running.get(task.taskArn);
    if (!run) return;
    this.running.delete(task.taskArn);
    // The workbench ends with the supervisor's socket; whatever it left running ends with the task.
    if (run.workbench?.pid !== undefined) {
      for (const group of groupsUnder(run.workbench.pid)) signalGroup(group, 'SIGKILL');
      try {
        process.kill(-run.workbench.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.settings.credentials.revoke(run.accessKeyId);
    this.settings.credentials.revokeTask(task.taskArn); // and its model sessions
    run.revoke();
    rmSync(run.taskDir, { recursive: true, force: true });
  }
}
