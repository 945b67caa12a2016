/**
 * The ECS API subset the control plane calls (runtime/control-plane/ecs-calls.ts: RunTask, StopTask,
 * ListTasks, DescribeTasks) over the local cluster, and each task's metadata endpoint (v4 `/task`, which
 * the supervisor reads for its own task ARN).
 * https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Operations.html
 */
import type { Server } from 'node:http';
import { AwsError } from '../aws/errors';
import { createJsonServer, epochSeconds, optionalString, requireString, type Operation } from '../aws/json-server';
import type { Authorizer, EcsAction } from '../aws/policy';
import { describePrincipal, type CredentialStore, type Principal } from '../aws/principals';
import type { LocalCluster, TaskRecord } from './cluster';

/** The supervisor container's name in every pair's task definition (lib/constructs/agent-cell.ts AGENT_CONTAINER_NAME). */
export const CONTAINER_NAME = 'supervisor';

export function createEcsServer(cluster: LocalCluster, credentials: CredentialStore, authorizer: Authorizer): Server {
  const allow = (principal: Principal, action: EcsAction, input: Record<string, unknown>) => {
    if (!authorizer.ecs(principal, action)) {
      throw new AwsError(
        'AccessDeniedException',
        `User: ${describePrincipal(principal)} is not authorized to perform: ${action}`,
      );
    }
    const ref = (optionalString(input, 'cluster') ?? 'default').replace(
      /^arn:aws[a-z-]*:ecs:[^:]+:\d{12}:cluster\//,
      '',
    );
    if (ref !== cluster.clusterArn.split('/').pop())
      throw new AwsError('ClusterNotFoundException', 'Cluster not found.');
  };

  const operations: Record<string, Operation> = {
    async RunTask(input, principal) {
      allow(principal, 'ecs:RunTask', input);
      if (input.count !== undefined && input.count !== 1)
        throw new AwsError('InvalidParameterException', 'Local mode starts one task per call.');
      if (input.overrides !== undefined)
        throw new AwsError('InvalidParameterException', 'Local mode runs task definitions without overrides.');
      if (input.launchType !== undefined && input.launchType !== 'FARGATE')
        throw new AwsError('InvalidParameterException', 'Local mode runs FARGATE tasks only.');
      const vpc = (input.networkConfiguration as { awsvpcConfiguration?: { subnets?: unknown[] } } | undefined)
        ?.awsvpcConfiguration;
      if (!vpc?.subnets?.length) {
        throw new AwsError(
          'InvalidParameterException',
          "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
        );
      }
      const family = requireString(input, 'taskDefinition')
        .replace(/^arn:aws[a-z-]*:ecs:[^:]+:\d{12}:task-definition\//, '')
        .replace(/:\d+$/, '');
      const task = await cluster.runTask({
        family,
        group: optionalString(input, 'group'),
        startedBy: optionalString(input, 'startedBy'),
        clientToken: optionalString(input, 'clientToken'),
        tags: parseTags(input.tags),
      });
      return { tasks: [view(task, true)], failures: [] };
    },
    async StopTask(input, principal) {
      allow(principal, 'ecs:StopTask', input);
      return {
        task: view(cluster.stopTask(requireString(input, 'task'), optionalString(input, 'reason') ?? ''), false),
      };
    },
    async ListTasks(input, principal) {
      allow(principal, 'ecs:ListTasks', input);
      const max = typeof input.maxResults === 'number' ? input.maxResults : 100;
      if (!Number.isInteger(max) || max < 1 || max > 100)
        throw new AwsError('InvalidParameterException', 'maxResults must be between 1 and 100.');
      const all = cluster.list({
        startedBy: optionalString(input, 'startedBy'),
        family: optionalString(input, 'family'),
        desiredStatus: optionalString(input, 'desiredStatus'),
      });
      const token = optionalString(input, 'nextToken');
      const start = token ? Number(Buffer.from(token, 'base64').toString('utf8')) : 0;
      if (!Number.isInteger(start) || start < 0) throw new AwsError('InvalidParameterException', 'Invalid nextToken.');
      const page = all.slice(start, start + max);
      const next = start + max < all.length ? Buffer.from(String(start + max)).toString('base64') : undefined;
      return { taskArns: page.map((t) => t.taskArn), ...(next ? { nextToken: next } : {}) };
    },
    async DescribeTasks(input, principal) {
      allow(principal, 'ecs:DescribeTasks', input);
      const refs = input.tasks;
      if (!Array.isArray(refs) || refs.length === 0 || refs.length > 100 || refs.some((r) => typeof r !== 'string')) {
        throw new AwsError('InvalidParameterException', 'tasks must list 1 to 100 task ids or ARNs.');
      }
      const tags = Array.isArray(input.include) && input.include.includes('TAGS');
      const tasks: unknown[] = [];
      const failures: unknown[] = [];
      for (const ref of refs as string[]) {
        const task = cluster.find(ref);
        if (task) tasks.push(view(task, tags));
        else failures.push({ arn: ref, reason: 'MISSING' });
      }
      return { tasks, failures };
    },
  };

  return createJsonServer({
    credentials,
    services: [{ targetPrefix: 'AmazonEC2ContainerServiceV20141113', signingName: 'ecs', operations }],
    other(req, res) {
      // Task metadata endpoint v4: `<ECS_CONTAINER_METADATA_URI_V4>/task`, for the task's own processes.
      const match = req.method === 'GET' ? /^\/v4\/([0-9a-f]{32})\/task$/.exec(req.url ?? '') : null;
      if (!match && req.method === 'GET') {
        res.writeHead(404).end();
        return true;
      }
      if (!match) return false;
      const task = cluster.byMetadataToken(match[1]);
      if (!task) {
        res.writeHead(404).end();
        return true;
      }
      const body = JSON.stringify({
        Cluster: task.clusterArn,
        TaskARN: task.taskArn,
        Family: task.family,
        Revision: task.taskDefinitionArn.split(':').pop(),
        DesiredStatus: task.desiredStatus,
        KnownStatus: task.lastStatus,
        LaunchType: 'FARGATE',
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return true;
    },
  });
}

/** A task as ECS describes it (timestamps in epoch seconds). */
export function view(task: TaskRecord, withTags: boolean) {
  const at = (ms: number | undefined) => (ms === undefined ? undefined : epochSeconds(ms));
  return {
    taskArn: task.taskArn,
    clusterArn: task.clusterArn,
    taskDefinitionArn: task.taskDefinitionArn,
    group: task.group,
    startedBy: task.startedBy,
    launchType: 'FARGATE',
    lastStatus: task.lastStatus,
    desiredStatus: task.desiredStatus,
    createdAt: at(task.createdAt),
    startedAt: at(task.startedAt),
    stoppingAt: at(task.stoppingAt),
    stoppedAt: at(task.stoppedAt),
    stopCode: task.stopCode,
    stoppedReason: task.stoppedReason,
    version: task.version,
    containers: [
      {
        containerArn: `${task.taskArn.replace(':task/', ':container/')}/${CONTAINER_NAME}`,
        taskArn: task.taskArn,
        name: CONTAINER_NAME,
        lastStatus: task.lastStatus === 'DEACTIVATING' ? 'RUNNING' : task.lastStatus,
        ...(task.exitCode !== undefined ? { exitCode: task.exitCode } : {}),
      },
    ],
    ...(withTags ? { tags: task.tags } : {}),
  };
}

function parseTags(value: unknown): { key: string; value: string }[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((t) => typeof t?.key !== 'string' || typeof t?.value !== 'string')) {
    throw new AwsError('InvalidParameterException', 'tags must be a list of { key, value }.');
  }
  return value.map((t: { key: string; value: string }) => ({ key: t.key, value: t.value }));
}
