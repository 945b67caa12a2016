/**
 * The runtime side of the relay (its own API Gateway WebSocket API, `$connect` authorized with IAM).
 *
 * A runtime connects with its task role (runtime-auth.ts), then either claims the session's nonce
 * (`claim`, once per session) or proves it holds it (`hello` → `resume`, on a reconnect). From then on
 * every frame carries `seq` and an HMAC-SHA256 under the nonce over the connection id, `seq` and the body
 * (runtime/shared/relay-mac.ts); `seq` continues across reconnects. A forged, replayed, reordered or
 * malformed frame, or one for another pair, is refused and the connection closed. Applied frames are
 * acknowledged with a signed `ack` carrying each operation's result.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { appendLifecycleEvent } from '../control-plane/lifecycle';
import { frameMac, macMatches } from '../shared/relay-mac';
import {
  MAX_RUNTIME_FRAME_BYTES,
  RUNTIME_BODY,
  RUNTIME_FRAME,
  type RelayMessage,
  type ResumedBody,
  type SessionInfo,
} from '../shared/relay-protocol';
import {
  authenticateRuntime,
  beginFrame,
  endFrame,
  forgetConnection,
  frameSequence,
  getConnection,
  putConnection,
  type ConnectionDeps,
  type RuntimeConnection,
} from './connections';
import type { Poster } from './poster';
import { applyOp, type RowDeps, type RuntimeContext } from './runtime-rows';
import { claimedNonce, claimNonce, readSession, sessionOfTask, type SessionRow } from './runtime-auth';
import { refuseUnknownCaller, type RoleDirectory, type TaskIdentity } from './task-roles';
import { frameText, ok, refuse, type WsEvent, type WsResult } from './ws-event';

export interface RuntimeSideDeps extends ConnectionDeps, RowDeps {
  /** Maps the caller's role session ARN to its pair and task. */
  readonly roles: Pick<RoleDirectory, 'identify'>;
  /** The runtime API's @connections. */
  readonly runtimes: Poster;
  readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/** A frame claimed longer ago than this was abandoned (the function died): the same frame may run again. */
export const STALE_FRAME_MS = 60_000;

export function createRuntimeHandler(deps: RuntimeSideDeps): (event: WsEvent) => Promise<WsResult> {
  return async (event) => {
    const { routeKey, connectionId, requestId } = event.requestContext;
    try {
      if (routeKey === '$connect') return await connect(deps, event);
      if (routeKey === '$disconnect') {
        await forgetConnection(deps, await getConnection(deps, connectionId), connectionId);
        return ok();
      }
      await message(deps, event);
      return ok();
    } catch (error) {
      deps.log.error('relay runtime request failed', { route: routeKey, request_id: requestId, error: error as Error });
      if (routeKey === '$connect') return refuse(500, 'The relay could not accept the connection.');
      await reject(
        deps,
        connectionId,
        undefined,
        'internal',
        'Something went wrong on our side; reconnect and resume.',
      );
      return ok();
    }
  };
}

async function connect(deps: RuntimeSideDeps, event: WsEvent): Promise<WsResult> {
  const { connectionId, requestId } = event.requestContext;
  const task = deps.roles.identify(event.requestContext.identity?.userArn);
  const session = task ? await sessionOfTask(deps, task) : undefined;
  if (!task || !session) return refuseUnknownCaller(deps.log, requestId, task !== undefined);
  await putConnection(deps, {
    kind: 'runtime',
    connectionId,
    pair: task.pair,
    taskId: task.taskId,
    sessionId: session.sessionId as string,
  });
  deps.log.info('relay runtime connected', {
    request_id: requestId,
    user_id: task.userId,
    agent_id: task.agentId,
    task_id: task.taskId,
  });
  return ok();
}

const taskOf = (c: RuntimeConnection): TaskIdentity => {
  const [userId, agentId] = c.pair.split('#');
  return { pair: c.pair, userId, agentId, taskId: c.taskId };
};

const sessionInfo = (s: SessionRow): SessionInfo => ({
  sessionId: s.sessionId as string,
  ...(s.deadlineAt !== undefined ? { deadlineAt: s.deadlineAt } : {}),
  ...(s.inboxCursor !== undefined ? { inboxCursor: s.inboxCursor } : {}),
});

async function message(deps: RuntimeSideDeps, event: WsEvent): Promise<void> {
  const { connectionId } = event.requestContext;
  const connection = await getConnection(deps, connectionId);
  if (connection?.kind !== 'runtime')
    return reject(deps, connectionId, connection, 'unknown-connection', 'Not a runtime connection.');
  const text = frameText(event);
  if (Buffer.byteLength(text, 'utf8') > MAX_RUNTIME_FRAME_BYTES)
    return reject(deps, connectionId, connection, 'oversized', 'Frame too large.');
  let parsed;
  try {
    parsed = RUNTIME_FRAME.safeParse(JSON.parse(text));
  } catch {
    return reject(deps, connectionId, connection, 'malformed', 'A frame must be one JSON object.');
  }
  if (!parsed.success) return reject(deps, connectionId, connection, 'malformed', 'Malformed frame.');
  const frame = parsed.data;
  const task = taskOf(connection);
  const post = (m: RelayMessage) => deps.runtimes.post(connectionId, m);

  if (frame.type === 'hello') {
    await post({ type: 'hello', connectionId });
    return;
  }
  if (connection.authenticated === true && (frame.type === 'claim' || frame.type === 'resume')) {
    return reject(deps, connectionId, connection, 'unexpected', 'This connection is already authenticated.');
  }
  const session = await readSession(deps, task.pair);
  if (frame.type === 'claim') {
    const claimed =
      session?.sessionId === connection.sessionId
        ? await claimNonce(deps, deps.sealer, task, session)
        : { ok: false as const, reclaim: false };
    if (!claimed.ok) {
      if (claimed.reclaim) {
        await appendLifecycleEvent(deps, task.pair, 'relay.claim_refused', `relay-${connectionId}`, {
          sessionId: connection.sessionId,
          taskId: task.taskId,
        });
      }
      return reject(
        deps,
        connectionId,
        connection,
        claimed.reclaim ? 'nonce-reclaim' : 'claim-refused',
        'The nonce of this session cannot be claimed.',
      );
    }
    await authenticateRuntime(deps, connection);
    await post({
      type: 'claimed',
      connectionId,
      nonce: claimed.nonce.toString('base64url'),
      session: sessionInfo(claimed.session),
    });
    deps.log.info('relay nonce claimed', { user_id: task.userId, agent_id: task.agentId, task_id: task.taskId });
    return;
  }

  const nonce = await claimedNonce(deps.sealer, session, task, connection.sessionId);
  if (!nonce || !session) return reject(deps, connectionId, connection, 'no-nonce', 'No claimed nonce for this task.');
  if (frame.type === 'resume') {
    if (!macMatches(nonce, 'runtime', connectionId, 0, frame.body, frame.mac))
      return reject(deps, connectionId, connection, 'forged', 'Frame refused.');
    const sequence = await frameSequence(deps, task.pair, connection.sessionId, STALE_FRAME_MS);
    // A frame of the previous connection is still being applied: its outcome decides where to resume.
    if (sequence.busy)
      return reject(
        deps,
        connectionId,
        connection,
        'busy',
        'A frame is still being applied; resume again shortly.',
        false,
      );
    await authenticateRuntime(deps, connection);
    const body: ResumedBody = { lastSeq: sequence.seq, session: sessionInfo(session) };
    const text = JSON.stringify(body);
    await post({ type: 'resumed', body: text, mac: frameMac(nonce, 'relay', connectionId, 0, text) });
    return;
  }

  // A signed frame: authenticated connection, valid MAC, the next sequence number, well-formed body.
  if (connection.authenticated !== true)
    return reject(deps, connectionId, connection, 'unauthenticated', 'Claim or resume first.');
  if (!macMatches(nonce, 'runtime', connectionId, frame.seq, frame.body, frame.mac))
    return reject(deps, connectionId, connection, 'forged', 'Frame refused.');
  let body;
  try {
    body = RUNTIME_BODY.safeParse(JSON.parse(frame.body));
  } catch {
    return reject(deps, connectionId, connection, 'malformed', 'Malformed frame body.');
  }
  if (!body.success) return reject(deps, connectionId, connection, 'malformed', 'Malformed frame body.');
  // Claimed before it runs: a replayed or reordered frame, or a copy of one being applied, never runs.
  if (!(await beginFrame(deps, task.pair, connection.sessionId, frame.seq, STALE_FRAME_MS))) {
    const { seq } = await frameSequence(deps, task.pair, connection.sessionId, STALE_FRAME_MS);
    return reject(
      deps,
      connectionId,
      connection,
      frame.seq <= seq ? 'replayed' : frame.seq > seq + 1 ? 'reordered' : 'busy',
      'Frame out of sequence.',
    );
  }
  const ctx: RuntimeContext = {
    pair: task.pair,
    taskId: task.taskId,
    taskArn: session.taskArn as string,
    sessionId: connection.sessionId,
  };
  const results = [];
  for (const op of body.data.ops) results.push(await applyOp(deps, ctx, op));
  await endFrame(deps, task.pair, connection.sessionId, frame.seq);
  const ack = JSON.stringify({ results });
  await post({ type: 'ack', seq: frame.seq, body: ack, mac: frameMac(nonce, 'relay', connectionId, frame.seq, ack) });
}

/** Refuses a frame: a log line (a security event unless it is a retry signal), an error frame, and the connection closed. */
async function reject(
  deps: RuntimeSideDeps,
  connectionId: string,
  connection: Awaited<ReturnType<typeof getConnection>>,
  why: string,
  message: string,
  security = true,
): Promise<void> {
  const task = connection?.kind === 'runtime' ? taskOf(connection) : undefined;
  deps.log.warn('relay runtime frame refused', {
    ...(security ? { security_event: `relay.runtime.${why}` } : { reason: why }),
    connection_id: connectionId,
    ...(task ? { user_id: task.userId, agent_id: task.agentId, task_id: task.taskId } : {}),
  });
  await deps.runtimes.post(connectionId, { type: 'error', message } satisfies RelayMessage).catch(() => undefined);
  await deps.runtimes.close(connectionId).catch(() => undefined);
  await forgetConnection(deps, connection, connectionId);
}
