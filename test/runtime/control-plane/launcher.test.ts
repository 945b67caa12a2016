import { RunTaskCommand } from '@aws-sdk/client-ecs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAwake, getSession } from '../../../runtime/control-plane/lifecycle';
import { launchSession } from '../../../runtime/control-plane/launcher';
import { lambdaLauncher } from '../../../runtime/control-plane/aws/launcher-invoker';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { pairKey } from '../../../runtime/shared/tables';
import { startDynamo, type TestDynamo } from '../../support/dynamo';
import { Clock, fakeEcs, launcherDeps, lifecycleDeps } from './support/fixtures';

/**
 * The launcher as an administrator who may invoke it would try it: made-up, stale, replayed and
 * decorated requests. It starts a task only for a STARTING session with that id and no task yet, and
 * only ever with the pair's own task definition and no overrides.
 */

let dynamo: TestDynamo;
beforeAll(async () => {
  dynamo = await startDynamo({ writer: 'api' });
});
afterAll(async () => {
  await dynamo.close();
});

let n = 0;
const freshPair = () => ({ userId: 'alice', agentId: `agent${++n}` });

async function claimed() {
  const fake = fakeEcs();
  const clock = new Clock();
  const pair = freshPair();
  // Claim through the real wake, with a launcher that does nothing: the row is STARTING, no task yet.
  const deps = { ...lifecycleDeps(dynamo, fake.ecs, clock), launcher: { launch: async () => undefined } };
  const { session } = await ensureAwake(deps, pair.userId, pair.agentId, 'req-1');
  return { fake, clock, pair, session, launcher: launcherDeps(dynamo, fake.ecs, clock) };
}

describe('launcher', () => {
  it("starts the claimed session's task once, with the pair's family and no overrides; a replay starts nothing", async () => {
    const { fake, pair, session, launcher } = await claimed();
    const request = { userId: pair.userId, agentId: pair.agentId, sessionId: session.sessionId };
    expect((await launchSession(launcher, request)).outcome).toBe('started');
    expect((await launchSession(launcher, request)).outcome).toBe('refused');
    const calls = fake.mock.commandCalls(RunTaskCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input.taskDefinition).toBe(`acme-alice_${pair.agentId}`);
    expect(calls[0].args[0].input).not.toHaveProperty('overrides');
    expect(Object.keys(calls[0].args[0].input).sort()).toEqual([
      'clientToken',
      'cluster',
      'count',
      'group',
      'launchType',
      'networkConfiguration',
      'startedBy',
      'tags',
      'taskDefinition',
    ]);
    expect(
      (await getSession({ doc: dynamo.doc, sessionsTable: dynamo.tables.sessions }, pairKey(pair.userId, pair.agentId)))
        ?.taskArn,
    ).toMatch(/task\//);
  });

  it('refuses a made-up session id, another pair, a session that is not STARTING, and any request with more than the three ids', async () => {
    const { fake, pair, session, launcher } = await claimed();
    const attempts: unknown[] = [
      { userId: pair.userId, agentId: pair.agentId, sessionId: '00000000-0000-4000-8000-000000000000' },
      { userId: 'bruno', agentId: pair.agentId, sessionId: session.sessionId },
      {
        userId: pair.userId,
        agentId: pair.agentId,
        sessionId: session.sessionId,
        overrides: { containerOverrides: [{ name: 'agent', command: ['sh', '-c', 'cat /proc/self/environ'] }] },
      },
      { userId: pair.userId, agentId: pair.agentId, sessionId: session.sessionId, taskDefinition: 'evil:1' },
      {
        userId: pair.userId,
        agentId: pair.agentId,
        sessionId: session.sessionId,
        taskRoleArn: 'arn:aws:iam::111111111111:role/cubicle/acme/agents/acme-bruno_research',
      },
      { userId: `${pair.userId}#x`, agentId: pair.agentId, sessionId: session.sessionId },
      'alice#agent',
      null,
    ];
    for (const attempt of attempts)
      expect((await launchSession(launcher, attempt)).outcome, JSON.stringify(attempt)).toBe('refused');
    // A row an administrator wrote by hand is STARTING but RUNNING rows, stopped rows and rows with a task are not launched.
    for (const status of ['RUNNING', 'STOPPING', 'STOPPED', 'FAILED']) {
      const other = freshPair();
      await dynamo.seed.send(
        new PutCommand({
          TableName: dynamo.tables.sessions,
          Item: { pk: pairKey(other.userId, other.agentId), status, sessionId: session.sessionId, version: 1 },
        }),
      );
      expect((await launchSession(launcher, { ...other, sessionId: session.sessionId })).outcome, status).toBe(
        'refused',
      );
    }
    expect(fake.mock.commandCalls(RunTaskCommand)).toHaveLength(0);
  });

  it('a failed RunTask fails the session with the reason, and the in-process wake reports it', async () => {
    const fake = fakeEcs();
    fake.runTask.push(async () => ({ tasks: [], failures: [{ reason: 'RESOURCE:ENI' }], $metadata: {} }));
    const pair = freshPair();
    const deps = lifecycleDeps(dynamo, fake.ecs, new Clock());
    await expect(ensureAwake(deps, pair.userId, pair.agentId, 'req-1')).rejects.toThrow(/RESOURCE:ENI/);
    expect((await getSession(deps, pairKey(pair.userId, pair.agentId)))?.status).toBe('FAILED');
  });

  it('the production invoker sends exactly the three ids, asynchronously; an unreachable launcher fails the session', async () => {
    const lambda = new LambdaClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const mock = mockClient(lambda);
    mock.on(InvokeCommand).resolves({ StatusCode: 202 });
    await lambdaLauncher('acme-launcher', lambda).launch({
      userId: 'alice',
      agentId: 'sales',
      sessionId: 'abc',
      ...({ overrides: 'x' } as object),
    } as never);
    const input = mock.commandCalls(InvokeCommand)[0].args[0].input;
    expect({ ...input, Payload: JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array)) }).toEqual({
      FunctionName: 'acme-launcher',
      InvocationType: 'Event',
      Payload: { userId: 'alice', agentId: 'sales', sessionId: 'abc' },
    });

    mock.on(InvokeCommand).rejects(Object.assign(new Error('throttled'), { name: 'TooManyRequestsException' }));
    const fake = fakeEcs();
    const pair = freshPair();
    const deps = { ...lifecycleDeps(dynamo, fake.ecs, new Clock()), launcher: lambdaLauncher('acme-launcher', lambda) };
    await expect(ensureAwake(deps, pair.userId, pair.agentId, 'req-1')).rejects.toThrow(
      /launcher could not be reached/,
    );
    expect((await getSession(deps, pairKey(pair.userId, pair.agentId)))?.status).toBe('FAILED');
    expect(fake.mock.commandCalls(RunTaskCommand)).toHaveLength(0);
  });
});
