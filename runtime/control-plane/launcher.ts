/**
 * The launcher (docs/isolation-claims.md claim 3): the only code that starts agent tasks. It runs in its own function,
 * whose role alone holds ecs:RunTask and iam:PassRole for the pairs, and which no internet request reaches:
 * the API, task-events and reaper functions invoke it asynchronously with (user, agent, session id) and
 * nothing else. It re-reads the session row and starts a task only for a STARTING session with that id
 * and no task yet, with the pair's own task definition and never an override, so a caller (or an
 * administrator who invokes it by hand) can choose nothing but which claimed session starts.
 *
 * How it is reached is behind `Launcher`: the Lambda invoker in production (aws/launcher-invoker.ts),
 * the in-process one in tests and local mode.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ECSClient } from '@aws-sdk/client-ecs';
import { LAUNCH_REQUEST } from './launch-request';
import { pairKey } from '../shared/tables';
import type { ChainKey } from '../shared/event-chain';
import type { TaskNetwork } from './env';
import { LaunchError, runPairTask, stopTask, type LaunchRequest } from './ecs-calls';
import { failSession, getSession, updateSession, type Log, type SessionRow } from './lifecycle';
import { SESSION_STATUS } from '../shared/session-status';

export type { LaunchRequest } from './ecs-calls';

/** Starts the task of a claimed session. Resolves with the session as the launch left it, when known. */
export interface Launcher {
  launch(request: LaunchRequest): Promise<SessionRow | undefined>;
}

export interface LauncherDeps {
  readonly doc: DynamoDBDocumentClient;
  readonly ecs: ECSClient;
  readonly sessionsTable: string;
  readonly eventsTable: string;
  /** MACs appended events under the chain key (runtime/shared/event-chain.ts). */
  readonly chain: Pick<ChainKey, 'mac'>;
  readonly network: TaskNetwork;
  readonly now: () => number;
  readonly log: Log;
}

export type LaunchOutcome =
  | { readonly outcome: 'started'; readonly session: SessionRow }
  | { readonly outcome: 'failed'; readonly session: SessionRow; readonly reason: string }
  | { readonly outcome: 'refused'; readonly reason: string };

/** Starts the task of the session named by the request, if it is a STARTING session without a task. */
export async function launchSession(deps: LauncherDeps, input: unknown): Promise<LaunchOutcome> {
  const parsed = LAUNCH_REQUEST.safeParse(input);
  if (!parsed.success) {
    deps.log.warn('launch refused: malformed request');
    return { outcome: 'refused', reason: 'malformed request' };
  }
  const { userId, agentId, sessionId } = parsed.data;
  const pk = pairKey(userId, agentId);
  const row = await getSession(deps, pk);
  if (!row || row.status !== SESSION_STATUS.STARTING || row.sessionId !== sessionId || row.taskArn) {
    deps.log.warn('launch refused: no such starting session', {
      user_id: userId,
      agent_id: agentId,
      session_id: sessionId,
    });
    return { outcome: 'refused', reason: 'no such starting session' };
  }

  let taskArn: string;
  try {
    taskArn = await runPairTask(deps.ecs, deps.network, { userId, agentId, sessionId });
  } catch (error) {
    const reason = error instanceof LaunchError ? error.reason : 'the task could not be started';
    deps.log.error('launch failed', {
      user_id: userId,
      agent_id: agentId,
      session_id: sessionId,
      error: error as Error,
    });
    const failed = await failSession(deps, pk, row, reason);
    return { outcome: 'failed', session: failed ?? { ...row, status: 'FAILED', stopReason: reason }, reason };
  }
  const recorded = await updateSession(
    deps,
    pk,
    {
      UpdateExpression: 'SET #taskArn = :arn, #version = #version + :one',
      ConditionExpression: '#sessionId = :sid AND #status IN (:starting, :stopping) AND attribute_not_exists(#taskArn)',
    },
    { arn: taskArn, one: 1, sid: sessionId, starting: SESSION_STATUS.STARTING, stopping: SESSION_STATUS.STOPPING },
  );
  if (recorded?.status === 'STOPPING') {
    // A sleep arrived before the task ARN was known; it could not stop the task, so we do.
    await stopTask(deps.ecs, deps.network.clusterArn, taskArn, 'Cubicle: stopped by the employee while starting');
  }
  deps.log.info('launch started a task', {
    user_id: userId,
    agent_id: agentId,
    session_id: sessionId,
    task_arn: taskArn,
  });
  return { outcome: 'started', session: recorded ?? { ...row, taskArn } };
}

/** The launcher called in the same process (tests, local mode): the launch's result is known at once. */
export function inProcessLauncher(deps: LauncherDeps): Launcher {
  return {
    async launch(request) {
      const result = await launchSession(deps, request);
      return result.outcome === 'refused' ? undefined : result.session;
    },
  };
}
