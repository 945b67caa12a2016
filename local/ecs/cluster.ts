/**
 * The local ECS cluster: tasks of the pairs' task definitions, each a supervisor process
 * (local/ecs/agent-process.ts). Task states follow Fargate's (PROVISIONING → RUNNING → DEACTIVATING →
 * STOPPED), every RUNNING and STOPPED change is published as an "ECS Task State Change" event, and
 * StopTask sends SIGTERM, then SIGKILL after the container's stop timeout, to every process group of the
 * task. Task records are kept in `<data>/ecs/tasks.json`, so a restart after a crash can stop what the
 * previous run left behind and report it STOPPED.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { AGENT_CONTAINER_STOP_TIMEOUT_SECONDS } from '../../runtime/shared/agent-env';
import { AwsError } from '../aws/errors';
import { writeFileAtomic } from '../files';
import { groupsUnder, mergeGroups, processStart, signalGroup, type ProcessGroup } from './processes';
import type { LocalTaskDefinition } from './task-definitions';

export type TaskStatus = 'PROVISIONING' | 'RUNNING' | 'DEACTIVATING' | 'STOPPED';

export interface TaskRecord {
  readonly taskArn: string;
  readonly taskId: string;
  readonly clusterArn: string;
  readonly family: string;
  readonly taskDefinitionArn: string;
  readonly group?: string;
  readonly startedBy?: string;
  readonly clientToken?: string;
  readonly tags: ReadonlyArray<{ key: string; value: string }>;
  readonly createdAt: number;
  /** Token of the task's metadata endpoint (ECS_CONTAINER_METADATA_URI_V4). */
  readonly metadataToken: string;
  lastStatus: TaskStatus;
  desiredStatus: 'RUNNING' | 'STOPPED';
  startedAt?: number;
  stoppingAt?: number;
  stoppedAt?: number;
  stopCode?: string;
  stoppedReason?: string;
  exitCode?: number;
  pid?: number;
  pidStart?: number;
  /** Process groups seen under the supervisor; all are killed when the task ends. */
  groups: ProcessGroup[];
  /** The task's version, as ECS counts state changes. */
  version: number;
}

/** What runs a task's process; returns once it has spawned (or throws if it could not). */
export interface TaskLauncher {
  start(
    task: TaskRecord,
    definition: LocalTaskDefinition,
    exited: (code: number | null, signal: NodeJS.Signals | null) => void,
  ): Promise<{ pid: number }>;
  /** Cleans up after the task's process exited (ephemeral directory, credentials). */
  cleanup(task: TaskRecord): void;
}

export interface RunTaskRequest {
  readonly family: string;
  readonly group?: string;
  readonly startedBy?: string;
  readonly clientToken?: string;
  readonly tags?: ReadonlyArray<{ key: string; value: string }>;
}

/** ECS keeps stopped tasks visible for about an hour. */
const STOPPED_RETENTION_MS = 60 * 60_000;
const TRACK_INTERVAL_MS = 1_000;

export class LocalCluster {
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly file: string;
  private readonly killTimers = new Map<string, NodeJS.Timeout>();
  private readonly exits = new Map<string, Promise<void>>();
  private tracker: NodeJS.Timeout | undefined;

  constructor(
    readonly clusterArn: string,
    private readonly definitions: ReadonlyMap<string, LocalTaskDefinition>,
    dataDir: string,
    private readonly launcher: TaskLauncher,
    private readonly publish: (task: TaskRecord) => void,
    private readonly stopTimeoutMs = AGENT_CONTAINER_STOP_TIMEOUT_SECONDS * 1000,
  ) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.file = path.join(dataDir, 'tasks.json');
    if (existsSync(this.file)) {
      for (const task of JSON.parse(readFileSync(this.file, 'utf8')) as TaskRecord[])
        this.tasks.set(task.taskArn, task);
    }
  }

  /**
   * Tasks the previous run left unstopped (it crashed or was killed): their processes are killed and
   * they are reported STOPPED, so their sessions do not stay RUNNING.
   */
  recover(): void {
    for (const task of this.tasks.values()) {
      if (task.lastStatus === 'STOPPED') continue;
      for (const group of this.groupsOf(task)) signalGroup(group, 'SIGKILL');
      this.markStopped(task, {
        code: 'EssentialContainerExited',
        reason: 'Cubicle local mode stopped while the task was running',
        exitCode: 137,
      });
    }
  }

  definition(family: string): LocalTaskDefinition | undefined {
    return this.definitions.get(family);
  }

  async runTask(request: RunTaskRequest): Promise<TaskRecord> {
    const definition = this.definitions.get(request.family);
    if (!definition) throw new AwsError('ClientException', 'TaskDefinition not found.');
    if (request.clientToken) {
      const earlier = [...this.tasks.values()].find((t) => t.clientToken === request.clientToken);
      if (earlier) return earlier;
    }
    const taskId = randomBytes(16).toString('hex');
    const task: TaskRecord = {
      taskArn: `${this.clusterArn.replace(':cluster/', ':task/')}/${taskId}`,
      taskId,
      clusterArn: this.clusterArn,
      family: definition.family,
      taskDefinitionArn: definition.arn,
      group: request.group,
      startedBy: request.startedBy,
      clientToken: request.clientToken,
      tags: request.tags ?? [],
      createdAt: Date.now(),
      metadataToken: randomBytes(16).toString('hex'),
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      groups: [],
      version: 1,
    };
    this.tasks.set(task.taskArn, task);
    this.save();
    let exited!: () => void;
    this.exits.set(task.taskArn, new Promise<void>((resolve) => (exited = resolve)));
    try {
      const { pid } = await this.launcher.start(task, definition, (code, signal) => {
        this.onExit(task, code, signal);
        exited();
      });
      task.pid = pid;
      task.pidStart = processStart(pid);
      task.groups = groupsUnder(pid);
      if (task.lastStatus === 'PROVISIONING') {
        task.lastStatus = 'RUNNING';
        task.startedAt = Date.now();
        task.version += 1;
        this.save();
        this.publish(task);
        // A StopTask that came while the process was starting.
        if (task.desiredStatus === 'STOPPED') this.terminate(task, this.stopTimeoutMs);
      }
      this.track();
    } catch (error) {
      this.markStopped(task, {
        code: 'TaskFailedToStart',
        reason: `CannotStartContainerError: ${(error as Error).message}`.slice(0, 255),
      });
      exited();
    }
    return task;
  }

  /** StopTask: SIGTERM to the task's main process now, SIGKILL to all its processes after the stop timeout. */
  stopTask(taskRef: string, reason: string): TaskRecord {
    const task = this.find(taskRef);
    if (!task) throw new AwsError('InvalidParameterException', 'The referenced task was not found.');
    if (task.desiredStatus === 'STOPPED') return task;
    task.desiredStatus = 'STOPPED';
    task.stopCode = 'UserInitiated';
    task.stoppedReason = reason || 'Task stopped by user';
    task.stoppingAt = Date.now();
    task.version += 1;
    if (task.lastStatus === 'RUNNING') this.terminate(task, this.stopTimeoutMs);
    this.save();
    return task;
  }

  /** Stops every task and waits until all have exited (SIGKILL after `timeoutMs`). */
  async stopAll(reason: string, timeoutMs: number): Promise<void> {
    const running = [...this.tasks.values()].filter((t) => t.lastStatus !== 'STOPPED');
    for (const task of running) {
      this.stopTask(task.taskArn, reason);
      // A shorter grace than ECS's stop timeout: local mode is shutting down.
      if (task.lastStatus === 'DEACTIVATING') this.terminate(task, timeoutMs);
    }
    await Promise.all(running.map((t) => this.exits.get(t.taskArn)));
    clearInterval(this.tracker);
    this.tracker = undefined;
  }

  /** SIGKILL to every process of every task now (a second Ctrl-C). */
  killAll(): void {
    for (const task of this.tasks.values()) if (task.lastStatus !== 'STOPPED') this.signal(task, 'SIGKILL');
  }

  find(taskRef: string): TaskRecord | undefined {
    return this.tasks.get(taskRef) ?? [...this.tasks.values()].find((t) => t.taskId === taskRef);
  }

  list(filter: { startedBy?: string; family?: string; desiredStatus?: string }): TaskRecord[] {
    this.expire();
    return [...this.tasks.values()]
      .filter((t) => t.desiredStatus === (filter.desiredStatus ?? 'RUNNING'))
      .filter((t) => filter.startedBy === undefined || t.startedBy === filter.startedBy)
      .filter((t) => filter.family === undefined || t.family === filter.family)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  byMetadataToken(token: string): TaskRecord | undefined {
    return [...this.tasks.values()].find((t) => t.metadataToken === token && t.lastStatus !== 'STOPPED');
  }

  private onExit(task: TaskRecord, code: number | null, signal: NodeJS.Signals | null): void {
    clearTimeout(this.killTimers.get(task.taskArn));
    this.killTimers.delete(task.taskArn);
    // As when a container exits: nothing the task started outlives it.
    for (const group of this.groupsOf(task)) signalGroup(group, 'SIGKILL');
    this.launcher.cleanup(task);
    const exitCode = code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 1) : undefined);
    this.markStopped(task, {
      code: task.stopCode ?? 'EssentialContainerExited',
      reason: task.stoppedReason ?? 'Essential container in task exited',
      exitCode,
    });
  }

  private markStopped(task: TaskRecord, how: { code: string; reason: string; exitCode?: number }): void {
    if (task.lastStatus === 'STOPPED') return;
    task.lastStatus = 'STOPPED';
    task.desiredStatus = 'STOPPED';
    task.stopCode = how.code;
    task.stoppedReason = how.reason;
    task.exitCode = how.exitCode;
    task.stoppedAt = Date.now();
    task.version += 1;
    this.save();
    this.publish(task);
  }

  /**
   * SIGTERM to the task's main process (as the container's init forwards ECS's SIGTERM to it; the
   * supervisor stops its CLI itself), SIGKILL to every group of the task after `graceMs`.
   */
  private terminate(task: TaskRecord, graceMs: number): void {
    if (task.lastStatus !== 'DEACTIVATING') {
      task.lastStatus = 'DEACTIVATING';
      // The main process leads its own group (it was started detached).
      if (task.pid !== undefined && task.pidStart !== undefined)
        signalGroup({ pgid: task.pid, members: [{ pid: task.pid, start: task.pidStart }] }, 'SIGTERM');
    }
    clearTimeout(this.killTimers.get(task.taskArn));
    this.killTimers.set(
      task.taskArn,
      setTimeout(() => this.signal(task, 'SIGKILL'), graceMs),
    );
  }

  private signal(task: TaskRecord, signal: NodeJS.Signals): void {
    for (const group of this.groupsOf(task)) signalGroup(group, signal);
  }

  /** Groups recorded so far plus those under the supervisor now. */
  private groupsOf(task: TaskRecord): ProcessGroup[] {
    const now =
      task.pid !== undefined && task.pidStart !== undefined && processStart(task.pid) === task.pidStart
        ? groupsUnder(task.pid)
        : [];
    task.groups = mergeGroups(task.groups, now);
    return task.groups;
  }

  /** Records the process groups of running tasks every second (a CLI may start tool processes at any time). */
  private track(): void {
    if (this.tracker) return;
    this.tracker = setInterval(() => {
      const running = [...this.tasks.values()].filter(
        (t) => t.lastStatus === 'RUNNING' || t.lastStatus === 'DEACTIVATING',
      );
      if (running.length === 0) {
        clearInterval(this.tracker);
        this.tracker = undefined;
        return;
      }
      let changed = false;
      for (const task of running) {
        const before = task.groups.length;
        this.groupsOf(task);
        changed ||= task.groups.length !== before;
      }
      if (changed) this.save();
    }, TRACK_INTERVAL_MS);
    this.tracker.unref();
  }

  private expire(): void {
    const cutoff = Date.now() - STOPPED_RETENTION_MS;
    for (const [arn, task] of this.tasks)
      if (task.lastStatus === 'STOPPED' && (task.stoppedAt ?? 0) < cutoff) this.tasks.delete(arn);
  }

  private save(): void {
    this.expire();
    writeFileAtomic(this.file, JSON.stringify([...this.tasks.values()]));
  }
}
