/**
 * Entry logic of the ECS task state change rule: validates the event's shape, tags the log lines with
 * the pair, and applies it. Malformed or foreign events are logged and dropped (a retry cannot fix them).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import * as z from 'zod/mini';
import { applyTaskEvent, type LifecycleDeps, type TaskEventOutcome } from './lifecycle';
import { pairOfTaskDefinition } from './ecs-calls';

const DETAIL = z.object({
  taskArn: z.string(),
  clusterArn: z.string(),
  lastStatus: z.string(),
  taskDefinitionArn: z.optional(z.string()),
  group: z.optional(z.string()),
  startedBy: z.optional(z.string()),
  stopCode: z.optional(z.string()),
  stoppedReason: z.optional(z.string()),
  containers: z.optional(z.array(z.object({ name: z.optional(z.string()), exitCode: z.optional(z.number()) }))),
});

export interface TaskStateEvent {
  readonly id?: string;
  readonly 'detail-type'?: string;
  readonly detail?: unknown;
}

export function createTaskEventHandler(deps: LifecycleDeps, logger: Logger): (event: TaskStateEvent) => Promise<TaskEventOutcome> {
  return async (event) => {
    logger.appendKeys({ request_id: event.id ?? 'unknown' });
    try {
      const parsed = DETAIL.safeParse(event.detail);
      if (!parsed.success) {
        logger.warn('ignored a malformed task state event');
        return 'ignored';
      }
      const pair = pairOfTaskDefinition(deps.launch.deployment, parsed.data.taskDefinitionArn);
      if (pair) logger.appendKeys({ user_id: pair.userId, agent_id: pair.agentId });
      const outcome = await applyTaskEvent(deps, parsed.data);
      logger.info('task state event', { last_status: parsed.data.lastStatus, task_arn: parsed.data.taskArn, outcome });
      return outcome;
    } finally {
      logger.resetKeys();
    }
  };
}
