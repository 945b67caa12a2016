/**
 * ECS task state changes, delivered the way EventBridge does: "ECS Task State Change" events that match
 * the control plane's rule (lib/constructs/lifecycle-functions.ts; test/local/matches-stacks.test.ts compares the
 * pattern with the synthesized rule) go to the task-events function, in order, retried on failure.
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html
 */
import { randomUUID } from 'node:crypto';
import { STARTED_BY } from '../../runtime/shared/names';
import type { TaskRecord } from './cluster';
import { view } from './server';

export interface TaskStateEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'ECS Task State Change';
  readonly source: 'aws.ecs';
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: string[];
  readonly detail: ReturnType<typeof view>;
}

/** The rule's event pattern, for a cluster. */
export function taskEventPattern(clusterArn: string) {
  return {
    source: ['aws.ecs'],
    'detail-type': ['ECS Task State Change'],
    detail: { clusterArn: [clusterArn], lastStatus: ['RUNNING', 'STOPPED'], startedBy: [STARTED_BY] },
  };
}

export function taskStateEvent(task: TaskRecord, account: string, region: string): TaskStateEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account,
    time: new Date().toISOString(),
    region,
    resources: [task.taskArn],
    detail: view(task, false),
  };
}

/** EventBridge's exact-value matching, enough for the rule above: every listed field must have one of the values. */
export function matchesPattern(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = event[key];
    if (Array.isArray(expected)) return expected.includes(actual);
    return typeof expected === 'object' && expected !== null && typeof actual === 'object' && actual !== null
      ? matchesPattern(expected as Record<string, unknown>, actual as Record<string, unknown>)
      : false;
  });
}

/** EventBridge retries a failed Lambda target (retryAttempts: 8 on the rule's target). */
const ATTEMPTS = 9;

/** Delivers events one at a time, in publish order; events published before `attach` wait for it. */
export class TaskEventBus {
  private queue: Promise<void> = Promise.resolve();
  private target: ((event: TaskStateEvent) => Promise<void>) | undefined;
  private ready!: () => void;
  private readonly attached = new Promise<void>((resolve) => (this.ready = resolve));

  constructor(
    private readonly pattern: Record<string, unknown>,
    private readonly onFailure: (event: TaskStateEvent, error: Error) => void,
    private readonly retryDelayMs = 200,
  ) {}

  attach(target: (event: TaskStateEvent) => Promise<void>): void {
    this.target = target;
    this.ready();
  }

  publish(event: TaskStateEvent): void {
    if (!matchesPattern(this.pattern, event as unknown as Record<string, unknown>)) return;
    this.queue = this.queue.then(async () => {
      await this.attached;
      for (let attempt = 1; ; attempt += 1) {
        try {
          await this.target!(event);
          return;
        } catch (error) {
          if (attempt >= ATTEMPTS) {
            this.onFailure(event, error as Error);
            return;
          }
          await new Promise((r) => setTimeout(r, Math.min(5_000, this.retryDelayMs * 2 ** (attempt - 1))));
        }
      }
    });
  }

  /** Resolves when every event published so far has been delivered (or given up). */
  drain(): Promise<void> {
    return this.queue;
  }
}
