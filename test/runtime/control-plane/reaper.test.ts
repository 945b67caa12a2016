import { DescribeTasksCommand, ListTasksCommand, StopTaskCommand, type Task } from '@aws-sdk/client-ecs';
import { BatchWriteCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getSession, type SessionRow } from '../../../runtime/control-plane/lifecycle';
import { planReap, reapTick, type ReaperDeps } from '../../../runtime/control-plane/reaper';
import { verifyChain } from '../../../runtime/shared/event-chain';
import { readEvents } from '../../../runtime/shared/event-log';
import { activeShardOf, pairKey } from '../../../runtime/shared/tables';
import { startDynamo, type TestDynamo } from '../../support/dynamo';
import { Clock, fakeEcs, LAUNCH, lifecycleDeps, taskArnOf, taskDefinitionArnOf } from './support/fixtures';
import { TEST_CHAIN } from '../../support/chain-key';

const MIN = 60_000;

// A fresh server per test: the reaper reads every active session, so tests must not share rows.
let dynamo: TestDynamo;
beforeEach(async () => {
  dynamo = await startDynamo({ writer: 'reaper' });
});
afterEach(async () => {
  await dynamo.close();
});

type Kind =
  | 'running-fresh'
  | 'running-lost'
  | 'running-idle'
  | 'running-deadline'
  | 'starting-fresh'
  | 'starting-unrecorded'
  | 'starting-stuck'
  | 'starting-stuck-unrecorded'
  | 'stopping-fresh'
  | 'stopping-stale'
  | 'stopped'
  | 'failed';

/** 2,000 sessions: how many of each kind. */
const MIX: Record<Kind, number> = {
  'running-fresh': 590,
  'running-lost': 10,
  'running-idle': 300,
  'running-deadline': 200,
  'starting-fresh': 100,
  'starting-unrecorded': 100,
  'starting-stuck': 100,
  'starting-stuck-unrecorded': 50,
  'stopping-fresh': 150,
  'stopping-stale': 100,
  stopped: 200,
  failed: 100,
};

function sessionRow(kind: Kind, i: number, now: number): SessionRow & Record<string, unknown> {
  const pk = pairKey(`u${i}`, kind);
  const base = {
    pk,
    sessionId: `session-${kind}-${i}`,
    requestId: `wake-${i}`,
    version: 1,
    startedAt: now - 30 * MIN,
    deadlineAt: now + 90 * MIN,
    lastActivityAt: now - MIN,
    runningAt: now - 29 * MIN,
    taskArn: taskArnOf(`${kind}-${i}`),
    activeShard: activeShardOf(pk),
  };
  switch (kind) {
    case 'running-fresh':
    case 'running-lost':
      return { ...base, status: 'RUNNING' };
    case 'running-idle':
      return { ...base, status: 'RUNNING', lastActivityAt: now - 16 * MIN };
    case 'running-deadline':
      return { ...base, status: 'RUNNING', deadlineAt: now - MIN };
    case 'starting-fresh':
      return { ...base, status: 'STARTING', startedAt: now - MIN, runningAt: undefined };
    case 'starting-unrecorded':
      return { ...base, status: 'STARTING', startedAt: now - MIN, runningAt: undefined, taskArn: undefined };
    case 'starting-stuck':
      return { ...base, status: 'STARTING', startedAt: now - 11 * MIN, runningAt: undefined };
    case 'starting-stuck-unrecorded':
      return { ...base, status: 'STARTING', startedAt: now - 11 * MIN, runningAt: undefined, taskArn: undefined };
    case 'stopping-fresh':
      return { ...base, status: 'STOPPING', stoppingAt: now - MIN };
    case 'stopping-stale':
      return { ...base, status: 'STOPPING', stoppingAt: now - 6 * MIN };
    case 'stopped':
    case 'failed':
      // Not active: no activeShard, so not in the index even though the deadline has long passed.
      return {
        ...base,
        status: kind === 'stopped' ? 'STOPPED' : 'FAILED',
        deadlineAt: now - 60 * MIN,
        activeShard: undefined,
      };
  }
}

async function seed(rows: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  for (let i = 0; i < rows.length; i += 25) {
    const chunk = rows.slice(i, i + 25).map((row) => ({
      PutRequest: { Item: Object.fromEntries(Object.entries(row).filter(([, v]) => v !== undefined)) },
    }));
    let pending: Record<string, unknown>[] | undefined = chunk;
    while (pending && pending.length > 0) {
      const out = await dynamo.seed.send(
        new BatchWriteCommand({ RequestItems: { [dynamo.tables.sessions]: pending as never } }),
      );
      pending = out.UnprocessedItems?.[dynamo.tables.sessions] as Record<string, unknown>[] | undefined;
    }
  }
}

function reaperDeps(fake: ReturnType<typeof fakeEcs>, clock: Clock, extra: Partial<ReaperDeps> = {}): ReaperDeps {
  return {
    ...lifecycleDeps(dynamo, fake.ecs, clock),
    deadline: clock.t + 50_000,
    sleepMs: async (ms) => clock.advance(ms),
    requestId: 'reaper-tick-1',
    ...extra,
  };
}

/** ListTasks paginates 100 ARNs per page, as ECS does. */
function listTasksPaged(fake: ReturnType<typeof fakeEcs>, arns: readonly string[]): void {
  fake.mock.on(ListTasksCommand).callsFake(async (input: { nextToken?: string }) => {
    const from = Number(input.nextToken ?? '0');
    const next = from + 100;
    return { taskArns: arns.slice(from, next), nextToken: next < arns.length ? String(next) : undefined };
  });
}

describe('reaper', () => {
  it('a tick over 2,000 sessions in mixed states stops exactly the expected tasks and never scans', async () => {
    const clock = new Clock();
    const now = clock.t;
    const rows = (Object.entries(MIX) as [Kind, number][]).flatMap(([kind, count]) =>
      Array.from({ length: count }, (_, i) => sessionRow(kind, i, now)),
    );
    expect(rows).toHaveLength(2000);
    await seed(rows);

    const byKind = (kind: Kind) => rows.filter((r) => r.pk.endsWith(`#${kind}`));
    const arns = (kind: Kind) => byKind(kind).map((r) => r.taskArn as string);
    const orphans = Array.from({ length: 20 }, (_, i) => taskArnOf(`orphan-${i}`));
    const youngOrphans = Array.from({ length: 5 }, (_, i) => taskArnOf(`young-${i}`));
    const unrecorded = byKind('starting-unrecorded')
      .slice(0, 5)
      .map((r) => ({ arn: taskArnOf(`unrecorded-${r.sessionId}`), sessionId: r.sessionId }));
    // ECS lists every task the sessions claim (except the lost ones) plus the orphan candidates.
    const listed = [
      ...(
        [
          'running-fresh',
          'running-idle',
          'running-deadline',
          'starting-fresh',
          'starting-stuck',
          'stopping-fresh',
          'stopping-stale',
        ] as Kind[]
      ).flatMap(arns),
      ...orphans,
      ...youngOrphans,
      ...unrecorded.map((u) => u.arn),
    ];
    const fake = fakeEcs();
    listTasksPaged(fake, listed);
    const described: Record<string, Task> = {};
    for (const arn of orphans)
      described[arn] = {
        taskArn: arn,
        lastStatus: 'RUNNING',
        desiredStatus: 'RUNNING',
        createdAt: new Date(now - 10 * MIN),
        group: 'cubicle:gone',
        taskDefinitionArn: taskDefinitionArnOf('orphan-owner', 'agent'),
      };
    for (const arn of youngOrphans)
      described[arn] = {
        taskArn: arn,
        lastStatus: 'PROVISIONING',
        desiredStatus: 'RUNNING',
        createdAt: new Date(now - MIN),
      };
    for (const u of unrecorded)
      described[u.arn] = {
        taskArn: u.arn,
        lastStatus: 'RUNNING',
        desiredStatus: 'RUNNING',
        createdAt: new Date(now - 10 * MIN),
        group: `cubicle:${u.sessionId}`,
      };
    for (const arn of arns('running-lost'))
      described[arn] = {
        taskArn: arn,
        lastStatus: 'STOPPED',
        desiredStatus: 'STOPPED',
        createdAt: new Date(now - 30 * MIN),
      };
    fake.mock.on(DescribeTasksCommand).callsFake(async (input: { tasks: string[] }) => ({
      tasks: input.tasks.map((t) => described[t]).filter(Boolean),
    }));

    dynamo.reset();
    const stats = await reapTick(reaperDeps(fake, clock));

    const stopped = fake.mock.commandCalls(StopTaskCommand).map((c) => c.args[0].input.task as string);
    const expected = [
      ...arns('running-idle'),
      ...arns('running-deadline'),
      ...arns('starting-stuck'),
      ...arns('stopping-stale'),
      ...orphans,
    ];
    expect(stopped).toHaveLength(expected.length);
    expect(new Set(stopped)).toEqual(new Set(expected));
    expect(stats).toMatchObject({
      active: 1700,
      stopped: 500,
      failed: 150,
      finalized: 110,
      orphansStopped: 20,
      deferred: 0,
      errors: 0,
    });

    // Reads: Query on the index only (8 shards, each a page or two); never Scan.
    expect(dynamo.calls.get('ScanCommand')).toBeUndefined();
    const queries = fake.mock.commandCalls(ListTasksCommand).length;
    expect(queries).toBe(Math.ceil(listed.length / 100));
    expect(dynamo.calls.get('QueryCommand')).toBeGreaterThanOrEqual(8);

    // States after the tick.
    const deps = lifecycleDeps(dynamo, fake.ecs, clock);
    expect(await getSession(deps, byKind('running-idle')[0].pk)).toMatchObject({
      status: 'STOPPING',
      stopReason: 'idle beyond the idle timeout',
    });
    expect(await getSession(deps, byKind('running-deadline')[0].pk)).toMatchObject({
      status: 'STOPPING',
      stopReason: 'reached its maximum duration',
    });
    expect(await getSession(deps, byKind('starting-stuck-unrecorded')[0].pk)).toMatchObject({ status: 'FAILED' });
    expect(await getSession(deps, byKind('stopping-stale')[0].pk)).toMatchObject({ status: 'STOPPED' });
    expect(await getSession(deps, byKind('running-lost')[0].pk)).toMatchObject({
      status: 'STOPPED',
      stopReason: 'its task is no longer running',
    });
    expect(await getSession(deps, byKind('running-fresh')[0].pk)).toMatchObject({ status: 'RUNNING' });
    const left = await dynamo.doc.send(
      new QueryCommand({
        TableName: dynamo.tables.sessions,
        IndexName: 'active',
        KeyConditionExpression: 'activeShard = :s',
        ExpressionAttributeValues: { ':s': activeShardOf(byKind('starting-stuck')[0].pk) },
      }),
    );
    expect(left.Items?.some((i) => i.pk === byKind('starting-stuck')[0].pk)).toBe(false);

    // Every action is an event on the pair's chain, carrying the tick's request id.
    const chain = await readEvents(dynamo.doc, dynamo.tables.events, byKind('running-idle')[0].pk);
    expect(chain.map((e) => [e.type, e.requestId, e.data.reason])).toEqual([
      ['lifecycle.reap', 'reaper-tick-1', 'idle'],
    ]);
    expect((await verifyChain(chain, TEST_CHAIN)).ok).toBe(true);
    const orphanChain = await readEvents(dynamo.doc, dynamo.tables.events, pairKey('orphan-owner', 'agent'));
    expect(orphanChain.map((e) => e.type)).toEqual(Array(20).fill('lifecycle.orphan'));
    expect((await verifyChain(orphanChain, TEST_CHAIN)).ok).toBe(true);

    // A second tick right after finds nothing new to stop.
    fake.mock.resetHistory();
    listTasksPaged(fake, [...arns('running-fresh'), ...arns('starting-fresh')]);
    const again = await reapTick(reaperDeps(fake, clock));
    expect(fake.mock.commandCalls(StopTaskCommand)).toHaveLength(0);
    expect(again).toMatchObject({ stopped: 0, failed: 0, finalized: 0, orphansStopped: 0 });
  });

  it('a heartbeat that lands between the plan and the stop keeps the agent running', async () => {
    const clock = new Clock();
    const busy = { ...sessionRow('running-idle', 0, clock.t), pk: pairKey('busy', 'agent') };
    const idle = { ...sessionRow('running-idle', 1, clock.t), pk: pairKey('idle', 'agent') };
    await seed([busy, idle].map((r) => ({ ...r, activeShard: activeShardOf(r.pk) })));
    const fake = fakeEcs();
    listTasksPaged(fake, [busy.taskArn as string, idle.taskArn as string]);
    // The runtime's heartbeat (lastActivityAt) reaches the row just before the reaper's conditional write.
    let raced = false;
    dynamo.doc.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: { pk?: string } };
        if (!raced && context.commandName === 'UpdateItemCommand' && input.Key?.pk === busy.pk) {
          raced = true;
          await dynamo.seed.send(
            new UpdateCommand({
              TableName: dynamo.tables.sessions,
              Key: { pk: busy.pk },
              UpdateExpression: 'SET lastActivityAt = :now',
              ExpressionAttributeValues: { ':now': clock.t },
            }),
          );
        }
        return next(args);
      },
      { step: 'initialize', name: 'heartbeatRace' },
    );
    const stats = await reapTick(reaperDeps(fake, clock));
    expect(raced).toBe(true);
    expect(stats).toMatchObject({ stopped: 1, errors: 0 });
    expect(fake.mock.commandCalls(StopTaskCommand).map((c) => c.args[0].input.task)).toEqual([idle.taskArn]);
    const deps = lifecycleDeps(dynamo, fake.ecs, clock);
    expect(await getSession(deps, busy.pk)).toMatchObject({ status: 'RUNNING', lastActivityAt: clock.t });
    expect(await readEvents(dynamo.doc, dynamo.tables.events, busy.pk)).toEqual([]);
  });

  it('backs off on ECS throttling and still stops every task', async () => {
    const clock = new Clock();
    const rows = Array.from({ length: 12 }, (_, i) => ({
      ...sessionRow('running-idle', i, clock.t),
      pk: pairKey(`throttle${i}`, 'agent'),
    }));
    await seed(rows.map((r) => ({ ...r, activeShard: activeShardOf(r.pk) })));
    const fake = fakeEcs();
    listTasksPaged(
      fake,
      rows.map((r) => r.taskArn as string),
    );
    let throttles = 0;
    fake.mock.on(StopTaskCommand).callsFake(async () => {
      if (throttles < 10) {
        throttles += 1;
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      }
      return {};
    });
    const waits: number[] = [];
    const stats = await reapTick(
      reaperDeps(fake, clock, {
        sleepMs: async (ms) => {
          waits.push(ms);
          clock.advance(ms);
        },
      }),
    );
    expect(stats).toMatchObject({ active: 12, stopped: 12, throttled: 10, deferred: 0, errors: 0 });
    expect(waits).toHaveLength(10);
    const succeeded = new Set(fake.mock.commandCalls(StopTaskCommand).map((c) => c.args[0].input.task));
    expect(succeeded.size).toBe(12);
  });

  it('defers work to the next tick when throttling outlasts the tick', async () => {
    const clock = new Clock();
    const rows = Array.from({ length: 3 }, (_, i) => ({
      ...sessionRow('running-deadline', i, clock.t),
      pk: pairKey(`slow${i}`, 'agent'),
    }));
    await seed(rows.map((r) => ({ ...r, activeShard: activeShardOf(r.pk) })));
    const fake = fakeEcs();
    listTasksPaged(
      fake,
      rows.map((r) => r.taskArn as string),
    );
    fake.mock.on(StopTaskCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const stats = await reapTick(reaperDeps(fake, clock, { deadline: clock.t + 2_000 }));
    expect(stats).toMatchObject({ active: 3, stopped: 0, deferred: 3, errors: 0 });
  });
});

describe('planReap', () => {
  const now = Date.UTC(2026, 0, 5, 9);
  const row = (over: Partial<SessionRow>): SessionRow => ({
    pk: 'a#b',
    status: 'RUNNING',
    sessionId: 's',
    taskArn: 't',
    startedAt: now - 30 * MIN,
    runningAt: now - 29 * MIN,
    deadlineAt: now + MIN,
    lastActivityAt: now - MIN,
    ...over,
  });

  it('measures idleness from the last activity, not from the start', () => {
    const settings = { idleTimeoutMs: 15 * MIN };
    expect(planReap([row({ lastActivityAt: now - 14 * MIN })], ['t'], now, settings).actions).toEqual([]);
    expect(
      planReap([row({ lastActivityAt: now - 15 * MIN })], ['t'], now, settings).actions.map((a) => a.reason),
    ).toEqual(['idle']);
  });

  it('prefers the deadline over idleness, and never reaps a young orphan candidate by itself', () => {
    const plan = planReap([row({ deadlineAt: now, lastActivityAt: now - 60 * MIN })], ['t', 'x'], now, {
      idleTimeoutMs: LAUNCH.idleTimeoutMs,
    });
    expect(plan.actions.map((a) => a.reason)).toEqual(['deadline']);
    expect(plan.orphanCandidates).toEqual(['x']);
  });
});
