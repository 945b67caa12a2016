import type * as ecs from 'aws-cdk-lib/aws-ecs';
import { AGENT_CONTAINER_STOP_TIMEOUT_SECONDS } from '../../runtime/shared/agent-env';

/**
 * The two containers of a pair's task (claims 1 and 4, docs/isolation-claims.md): the **supervisor**
 * (task role, relay, nonce, secrets, audit) and the **workbench** (the provider CLI and its tools) run
 * the same image under different uids, in separate PID namespaces (the task sets no pidMode), and share
 * only the pair's workspace and the exchange volume that holds the supervisor's sockets.
 */

/** uid and gid of the supervisor and of every file on the pair's access point (never root). */
export const AGENT_POSIX_ID = 10001;
/** uid and gid of the workbench: not the supervisor's, so no /proc/<pid>/environ, mem or fd of it is open to the CLI. */
export const WORKBENCH_POSIX_ID = 10002;
export const SUPERVISOR_CONTAINER_NAME = 'supervisor';
export const WORKBENCH_CONTAINER_NAME = 'workbench';
export const WORKSPACE_PATH = '/workspace';
/** The shared ephemeral volume: runtime/agent/src/workbench-protocol.ts DEFAULT_EXCHANGE_DIR. */
export const EXCHANGE_PATH = '/run/cubicle';
/** Hard memory limit of the supervisor; the workbench gets the rest of the task's memory. */
export const SUPERVISOR_MEMORY_MIB = 384;
/** The workbench's entrypoint and command (runtime/agent/Dockerfile puts them there). */
export const WORKBENCH_ENTRYPOINT = ['/opt/cubicle/workbench-env.sh'];
export const WORKBENCH_COMMAND = ['/usr/bin/tini', '-s', '--', 'node', '/opt/cubicle/workbench.cjs'];

export const VOLUMES = {
  workspace: 'workspace',
  supervisorTmp: 'tmp',
  workbenchTmp: 'workbench-tmp',
  exchange: 'exchange',
} as const;

export interface ContainerProps {
  readonly image: string;
  readonly taskMemoryMiB: number;
  readonly environment: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  readonly log: { readonly group: string; readonly region: string; readonly streamPrefix: string };
}

/** Ephemeral volumes: no host path, so each is a Fargate bind mount on the task's storage, gone with the task. */
export function ephemeralVolumes(): ecs.CfnTaskDefinition.VolumeProperty[] {
  return [{ name: VOLUMES.supervisorTmp }, { name: VOLUMES.workbenchTmp }, { name: VOLUMES.exchange }];
}

const LOCKED_DOWN = {
  privileged: false,
  readonlyRootFilesystem: true,
  essential: true,
  stopTimeout: AGENT_CONTAINER_STOP_TIMEOUT_SECONDS,
} as const;

function awslogs(props: ContainerProps): ecs.CfnTaskDefinition.LogConfigurationProperty {
  return {
    logDriver: 'awslogs',
    options: {
      'awslogs-group': props.log.group,
      'awslogs-region': props.log.region,
      'awslogs-stream-prefix': props.log.streamPrefix,
    },
  };
}

export function containerDefinitions(props: ContainerProps): ecs.CfnTaskDefinition.ContainerDefinitionProperty[] {
  if (props.taskMemoryMiB < SUPERVISOR_MEMORY_MIB + 512) {
    throw new Error(
      `runtime.memoryMiB must be at least ${SUPERVISOR_MEMORY_MIB + 512}: the supervisor keeps ${SUPERVISOR_MEMORY_MIB} MiB and the CLI needs 512`,
    );
  }
  const supervisor: ecs.CfnTaskDefinition.ContainerDefinitionProperty = {
    ...LOCKED_DOWN,
    name: SUPERVISOR_CONTAINER_NAME,
    image: props.image,
    memory: SUPERVISOR_MEMORY_MIB,
    user: `${AGENT_POSIX_ID}:${AGENT_POSIX_ID}`,
    linuxParameters: { initProcessEnabled: true, capabilities: { drop: ['ALL'] } },
    mountPoints: [
      // Read-only: the guard resolves the workspace's symbolic links; it never writes there.
      { sourceVolume: VOLUMES.workspace, containerPath: WORKSPACE_PATH, readOnly: true },
      { sourceVolume: VOLUMES.supervisorTmp, containerPath: '/tmp', readOnly: false },
      { sourceVolume: VOLUMES.exchange, containerPath: EXCHANGE_PATH, readOnly: false },
    ],
    environment: [...props.environment],
    logConfiguration: awslogs(props),
  };
  const workbench: ecs.CfnTaskDefinition.ContainerDefinitionProperty = {
    ...LOCKED_DOWN,
    name: WORKBENCH_CONTAINER_NAME,
    image: props.image,
    memory: props.taskMemoryMiB - SUPERVISOR_MEMORY_MIB,
    user: `${WORKBENCH_POSIX_ID}:${WORKBENCH_POSIX_ID}`,
    // No ECS init: it would be PID 1 with the environment ECS injected (the credentials URI) readable at
    // /proc/1/environ. The entrypoint execs tini from an empty environment instead.
    linuxParameters: { initProcessEnabled: false, capabilities: { drop: ['ALL'] } },
    entryPoint: WORKBENCH_ENTRYPOINT,
    command: WORKBENCH_COMMAND,
    // The supervisor's socket exists before the workbench looks for it (the daemon retries anyway).
    dependsOn: [{ containerName: SUPERVISOR_CONTAINER_NAME, condition: 'START' }],
    mountPoints: [
      { sourceVolume: VOLUMES.workspace, containerPath: WORKSPACE_PATH, readOnly: false },
      { sourceVolume: VOLUMES.workbenchTmp, containerPath: '/tmp', readOnly: false },
      // Read-only: the CLI can connect to the supervisor's sockets (connecting is not a write to the file
      // system) but can never create or replace one.
      { sourceVolume: VOLUMES.exchange, containerPath: EXCHANGE_PATH, readOnly: true },
    ],
    // Nothing: the workbench is configured by its image; ECS still injects its AWS_*/ECS_* variables,
    // which its entrypoint drops (runtime/agent/workbench-env.sh).
    environment: [],
    // CT.ECS.PR.5 wants a log configuration on every container; the entrypoint sends the workbench's own
    // stdout and stderr to /dev/null, so only what the supervisor redacted ever reaches CloudWatch.
    logConfiguration: awslogs(props),
  };
  return [supervisor, workbench];
}
