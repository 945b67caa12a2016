import { RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ensureAwake,
  getSession,
  sleep,
  WakeFailed,
  type LifecycleDeps,
} from '../../../runtime/control-plane/lifecycle';
import { applyTaskEvent, type TaskStateDetail } from '../../../runtime/control-plane/task-events';
import { verifyChain } from '../../../runtime/shared/event-chain';
import { readEvents } from '../../../runtime/shared/event-log';
import { STARTED_BY } from '../../../runtime/shared/names';
import { activeShardOf, pairKey } from '../../../runtime/shared/tables';
import { startDynamo, type TestDynamo } from '../../support/dynamo';
import {
  TEST_CLUSTER_ARN,
  Clock,
  fakeEcs,
  LAUNCH,
  lifecycleDeps,
  taskArnOf,
  taskDefinitionArnOf,
} from './support/fixtures';
import { TEST_CHAIN } from '../../support/chain-key';

let dynamo: TestDynamo;
beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

let agentCounter = 0;
/** A fresh pair per test, so tests share one dynalite without seeing each other's rows. */
function freshPair(): { userId: string; agentId: string; pk: string } {
  const agentId = `agent-${++agentCounter}`;
  return { userId: 'alice', agentId, pk: pairKey('alice', agentId) };
}

function taskEvent(
  pair: { userId: string; agentId: string },
  lastStatus: string,
  taskArn: string,
  extra: Partial<TaskStateDetail> = {},
): TaskStateDetail {
  return {
    taskArn,
    clusterArn: TEST_CLUSTER_ARN,
    lastStatus,
    taskDefinitionArn: taskDefinitionArnOf(pair.userId, pair.agentId),
    startedBy: STARTED_BY,
    ...extra,
  };
}

describe('wake', () => {
  let fake: ReturnType<typeof fakeEcs>;
  let clock: Clock;
  let deps: LifecycleDeps;
  beforeEach(() => {
    fake = fakeEcs();
    clock = new Clock();
    deps = lifecycleDeps(dynamo, fake.ecs, clock);
  });

  it('100 concurrent wakes of one agent start exactly one task', async () => {
    const pair = freshPair();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => ensureAwake(deps, pair.userId, pair.agentId, `req-${i}`)),
    );

    expect(fake.mock.commandCalls(RunTaskCommand)).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'started')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'active')).toHaveLength(99);
    const row = await getSession(deps, pair.pk);
    expect(row).toMatchObject({ status: 'STARTING', taskArn: taskArnOf('run-1'), activeShard: activeShardOf(pair.pk) });
  });

  it('starts each new session with no relay nonce and unclaimed (its task makes and seals one on claim); waking an awake agent changes nothing', async () => {
    const pair = freshPair();
    await ensureAwake(deps, pair.userId, pair.agentId, 'req-1');
    const first = await getSession(deps, pair.pk);
    expect(first?.relayNonce).toBeUndefined();
    // A claimed session (runtime/relay/runtime-auth.ts leaves a sealed nonce); waking it again keeps the claim.
    await dynamo.seed.send(
      new UpdateCommand({
        TableName: dynamo.tables.sessions,
        Key: { pk: pair.pk },
        UpdateExpression: 'SET relayClaimedAt = :t, relayTask = :task, relayNonce = :n',
        ExpressionAttributeValues: { ':t': 1, ':task': 'old-task', ':n': 'cubicle-sealed:v1:old' },
      }),
    );
    await ensureAwake(deps, pair.userId, pair.agentId, 'req-2');
    expect(await getSession(deps, pair.pk)).toMatchObject({
      relayNonce: 'cubicle-sealed:v1:old',
      relayClaimedAt: 1,
      relayTask: 'old-task',
    });
    // Stopped: the next session starts without the old nonce or claim.
    await dynamo.seed.send(
      new UpdateCommand({
        TableName: dynamo.tables.sessions,
        Key: { pk: pair.pk },
        UpdateExpression: 'SET #s = :stopped',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':stopped': 'STOPPED' },
      }),
    );
    await ensureAwake(deps, pair.userId, pair.agentId, 'req-3');
    const next = await getSession(deps, pair.pk);
    expect(next?.sessionId).not.toBe(first?.sessionId);
    expect(next?.relayNonce).toBeUndefined();
    expect(next?.relayClaimedAt).toBeUndefined();
    expect(next?.relayTask).toBeUndefined();
  });

  it("runs the pair's family privately, idempotently and tagged, with at most 3 DynamoDB calls", async () => {
    const pair = freshPair();
    dynamo.reset();
    const { session } = await ensureAwake(deps, pair.userId, pair.agentId, 'req-1');

    expect(dynamo.total()).toBeLessThanOrEqual(3);
    const [call] = fake.mock.commandCalls(RunTaskCommand);
    expect(call.args[0].input).toEqual({
      cluster: TEST_CLUSTER_ARN,
      taskDefinition: `acme-alice_${pair.agentId}`,
      launchType: 'FARGATE',
      count: 1,
      clientToken: session.sessionId,
      startedBy: STARTED_BY,
      group: `cubicle:${session.sessionId}`,
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: LAUNCH.subnetIds,
          securityGroups: LAUNCH.securityGroupIds,
          assignPublicIp: 'DISABLED',
        },
      },
      tags: [
        { key: 'user_id', value: 'alice' },
        { key: 'agent_id', value: pair.agentId },
        { key: 'session_id', value: session.sessionId },
      ],
    });
    expect(session).toMatchObject({
      deadlineAt: clock.t + LAUNCH.maxTaskDurationMs,
      lastActivityAt: clock.t,
      requestId: 'req-1',
    });
  });

  it("keeps the runtime's inbox cursor across sessions (wake updates, never replaces, the row)", async () => {
    const pair = freshPair();
    await dynamo.seed.send(
      new UpdateCommand({
        TableName: dynamo.tables.sessions,
        Key: { pk: pair.pk },
        UpdateExpression: 'SET #s = :s, inboxCursor = :c, version = :v',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': 'STOPPED', ':c': '0000000000001-00', ':v': 3 },
      }),
    );
    await ensureAwake(deps, pair.userId, pair.agentId, 'req-1');
    expect(await getSession(deps, pair.pk)).toMatchObject({
      status: 'STARTING',
      inboxCursor: '0000000000001-00',
      version: 5,
    });
  });

  it('marks the session FAILED with the reason when ECS cannot start the task, and a later wake retries', async () => {
    const pair = freshPair();
    fake.runTask.push(async () => ({
      tasks: [],
      failures: [{ reason: 'Capacity is unavailable at this time' }],
      $metadata: {},
    }));
    await expect(ensureAwake(deps, pair.userId, pair.agentId, 'req-1')).rejects.toBeInstanceOf(WakeFailed);

    const failed = await getSession(deps, pair.pk);
    expect(failed).toMatchObject({ status: 'FAILED', stopReason: expect.stringContaining('Capacity is unavailable') });
    expect(failed).not.toHaveProperty('activeShard');
    const events = await readEvents(dynamo.doc, dynamo.tables.events, pair.pk);
    expect(events.map((e) => [e.type, e.requestId])).toEqual([['lifecycle.failed', 'req-1']]);

    const retry = await ensureAwake(deps, pair.userId, pair.agentId, 'req-2');
    expect(retry.outcome).toBe('started');
  });

  it('fails the session (never throws a raw SDK error) when RunTask itself is rejected', async () => {
    const pair = freshPair();
    fake.runTask.push(async () => {
      throw Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' });
    });
    const error = await ensureAwake(deps, pair.userId, pair.agentId, 'req-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WakeFailed);
    expect((error as WakeFailed).reason).toBe('ECS refused to start the task (AccessDeniedException)');
  });
});

describe('sleep and wake while STOPPING', () => {
  it('a wake during STOPPING waits for the STOPPED event, which starts exactly one new session', async () => {
    const fake = fakeEcs();
    const deps = lifecycleDeps(dynamo, fake.ecs, new Clock());
    const pair = freshPair();
    const first = await ensureAwake(deps, pair.userId, pair.agentId, 'req-wake-1');
    const firstArn = first.session.taskArn as string;
    await applyTaskEvent(deps, taskEvent(pair, 'RUNNING', firstArn));

    const slept = await sleep(deps, pair.userId, pair.agentId, 'req-sleep');
    expect(slept.outcome).toBe('stopping');
    expect(fake.mock.commandCalls(StopTaskCommand).map((c) => c.args[0].input.task)).toEqual([firstArn]);

    const pending = await Promise.all(
      [1, 2, 3].map((i) => ensureAwake(deps, pair.userId, pair.agentId, `req-wake-${i + 1}`)),
    );
    expect(pending.map((p) => p.outcome)).toEqual(['pending', 'pending', 'pending']);
    expect(fake.mock.commandCalls(RunTaskCommand)).toHaveLength(1);

    expect(
      await applyTaskEvent(
        deps,
        taskEvent(pair, 'STOPPED', firstArn, { stopCode: 'UserInitiated', containers: [{ exitCode: 0 }] }),
      ),
    ).toBe('stopped');
    expect(fake.mock.commandCalls(RunTaskCommand)).toHaveLength(2);
    const next = await getSession(deps, pair.pk);
    expect(next).toMatchObject({ status: 'STARTING', taskArn: taskArnOf('run-2') });
    expect(next?.sessionId).not.toBe(first.session.sessionId);
    expect(next).not.toHaveProperty('wakePending');

    const chain = await readEvents(dynamo.doc, dynamo.tables.events, pair.pk);
    expect(chain.map((e) => e.type)).toEqual(['lifecycle.running', 'lifecycle.sleep', 'lifecycle.stopped']);
    expect(chain[2].data).toMatchObject({
      reason: 'put to sleep by the employee',
      exitCode: 0,
      stopCode: 'UserInitiated',
    });
    expect(await verifyChain(chain, TEST_CHAIN)).toEqual({ ok: true, length: 3 });
  });

  it('a sleep during STOPPING cancels the pending wake', async () => {
    const fake = fakeEcs();
    const deps = lifecycleDeps(dynamo, fake.ecs, new Clock());
    const pair = freshPair();
    const { session } = await ensureAwake(deps, pair.userId, pair.agentId, 'req-1');
    await sleep(deps, pair.userId, pair.agentId, 'req-2');
    await ensureAwake(deps, pair.userId, pair.agentId, 'req-3');
    expect((await sleep(deps, pair.userId, pair.agentId, 'req-4')).outcome).toBe('stopping');
    await applyTaskEvent(deps, taskEvent(pair, 'STOPPED', session.taskArn as string, { stopCode: 'UserInitiated' }));
    expect(fake.mock.commandCalls(RunTaskCommand)).toHaveLength(1);
    expect(await getSession(deps, pair.pk)).toMatchObject({ status: 'STOPPED' });
  });

  it('a sleep that lands before the task ARN is recorded still stops the task', async () => {
    const fake = fakeEcs();
    const deps = lifecycleDeps(dynamo, fake.ecs, new Clock());
    const pair = freshPair();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    fake.runTask.push(async () => {
      await gate;
      return { tasks: [{ taskArn: taskArnOf('slow') }], $metadata: {} };
    });
    const waking = ensureAwake(deps, pair.userId, pair.agentId, 'req-1');
    await new Promise((r) => setTimeout(r, 50));
    expect((await sleep(deps, pair.userId, pair.agentId, 'req-2')).outcome).toBe('stopping');
    expect(fake.mock.commandCalls(StopTaskCommand)).toHaveLength(0); // no ARN yet
    release();
    await waking;
    expect(fake.mock.commandCalls(StopTaskCommand).map((c) => c.args[0].input.task)).toEqual([taskArnOf('slow')]);
  });

  it('sleep of a sleeping agent changes nothing', async () => {
    const fake = fakeEcs();
    const deps = lifecycleDeps(dynamo, fake.ecs, new Clock());
    const pair = freshPair();
    expect(await sleep(deps, pair.userId, pair.agentId, 'req-1')).toEqual({ outcome: 'asleep', session: undefined });
    expect(fake.mock.commandCalls(StopTaskCommand)).toHaveLength(0);
  });
});

describe('task events', () => {
  it('ignores events out of order, duplicated, stale or foreign', async () => {
    const fake = fakeEcs();
    const clock = new Clock();
    const deps = lifecycleDeps(dynamo, fake.ecs, clock);
    const pair = freshPair();
    const { session } = await ensureAwake(deps, pair.userId, pair.agentId, 'req-1');
    const arn = session.taskArn as string;

    // STOPPED overtakes RUNNING: the session fails to start; the late RUNNING changes nothing.
    expect(
      await applyTaskEvent(
        deps,
        taskEvent(pair, 'STOPPED', arn, { stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError' }),
      ),
    ).toBe('failed');
    expect(await applyTaskEvent(deps, taskEvent(pair, 'RUNNING', arn))).toBe('ignored');
    expect(await applyTaskEvent(deps, taskEvent(pair, 'STOPPED', arn, { stopCode: 'TaskFailedToStart' }))).toBe(
      'ignored',
    );
    expect(await getSession(deps, pair.pk)).toMatchObject({
      status: 'FAILED',
      stopReason: 'CannotPullContainerError',
      stopCode: 'TaskFailedToStart',
    });

    // A new session: the old task's late events do not touch it.
    clock.advance(1000);
    const second = await ensureAwake(deps, pair.userId, pair.agentId, 'req-2');
    expect(await applyTaskEvent(deps, taskEvent(pair, 'RUNNING', arn))).toBe('ignored');
    expect(await applyTaskEvent(deps, taskEvent(pair, 'STOPPED', arn, { stopCode: 'EssentialContainerExited' }))).toBe(
      'ignored',
    );
    // Foreign: another cluster, another starter, another deployment's family.
    const secondArn = second.session.taskArn as string;
    expect(
      await applyTaskEvent(deps, {
        ...taskEvent(pair, 'RUNNING', secondArn),
        clusterArn: TEST_CLUSTER_ARN.replace('acme-cluster', 'other'),
      }),
    ).toBe('ignored');
    expect(await applyTaskEvent(deps, { ...taskEvent(pair, 'RUNNING', secondArn), startedBy: 'someone-else' })).toBe(
      'ignored',
    );
    expect(
      await applyTaskEvent(deps, {
        ...taskEvent(pair, 'RUNNING', secondArn),
        taskDefinitionArn: taskDefinitionArnOf('alice', pair.agentId).replace('acme-', 'other-'),
      }),
    ).toBe('ignored');
    expect(await getSession(deps, pair.pk)).toMatchObject({ status: 'STARTING', sessionId: second.session.sessionId });

    // RUNNING, a duplicate RUNNING, then STOPPED with the exit code.
    clock.advance(30_000);
    expect(await applyTaskEvent(deps, taskEvent(pair, 'RUNNING', secondArn))).toBe('running');
    expect(await applyTaskEvent(deps, taskEvent(pair, 'RUNNING', secondArn))).toBe('ignored');
    expect(await getSession(deps, pair.pk)).toMatchObject({
      status: 'RUNNING',
      runningAt: clock.t,
      lastActivityAt: clock.t,
    });
    expect(
      await applyTaskEvent(
        deps,
        taskEvent(pair, 'STOPPED', secondArn, {
          stopCode: 'EssentialContainerExited',
          stoppedReason: 'Essential container in task exited',
          containers: [{ name: 'agent', exitCode: 137 }],
        }),
      ),
    ).toBe('stopped');
    const stopped = await getSession(deps, pair.pk);
    expect(stopped).toMatchObject({ status: 'STOPPED', exitCode: 137, stopCode: 'EssentialContainerExited' });
    expect(stopped).not.toHaveProperty('activeShard');

    const chain = await readEvents(dynamo.doc, dynamo.tables.events, pair.pk);
    expect(chain.map((e) => [e.type, e.requestId])).toEqual([
      ['lifecycle.failed', 'req-1'],
      ['lifecycle.running', 'req-2'],
      ['lifecycle.stopped', 'req-2'],
    ]);
    expect((await verifyChain(chain, TEST_CHAIN)).ok).toBe(true);
  });

  it('matches a task by the session id in its group before the wake recorded the ARN', async () => {
    const fake = fakeEcs();
    const deps = lifecycleDeps(dynamo, fake.ecs, new Clock());
    const pair = freshPair();
    const { session } = await ensureAwake(deps, pair.userId, pair.agentId, 'req-1');
    // Simulate a wake that died between RunTask and recording the ARN.
    await dynamo.seed.send(
      new UpdateCommand({
        TableName: dynamo.tables.sessions,
        Key: { pk: pair.pk },
        UpdateExpression: 'REMOVE taskArn',
      }),
    );
    const arn = taskArnOf('unrecorded');
    expect(await applyTaskEvent(deps, taskEvent(pair, 'RUNNING', arn, { group: 'cubicle:not-this-session' }))).toBe(
      'ignored',
    );
    expect(await applyTaskEvent(deps, taskEvent(pair, 'RUNNING', arn, { group: `cubicle:${session.sessionId}` }))).toBe(
      'running',
    );
    expect(await getSession(deps, pair.pk)).toMatchObject({ status: 'RUNNING', taskArn: arn });
  });
});
