/**
 * Who a runtime connection is, and its session's nonce.
 *
 * Task identity: the runtime API authorizes `$connect` with IAM (SigV4 signed by the task role's
 * credentials), so API Gateway itself has checked the signature before any code runs, and hands over the
 * caller as `arn:aws:sts::<account>:assumed-role/<role>/<session>`. The role name is the pair's task role
 * (runtime/shared/names.ts agentRoleName) and ECS names the role session after the task id (CloudTrail
 * shows task-role calls as `assumed-role/<role>/<32-hex task id>`), so the caller names exactly one pair
 * and one task; the pair's Sessions row must name that task. Chosen over a presigned STS
 * GetCallerIdentity forwarded to STS (HashiCorp Vault's scheme): no bearer credential travels, an
 * unsigned connect never reaches a function, and the grant is an IAM statement a reviewer reads in the
 * template (execute-api:Invoke on this API's $connect only).
 *
 * Nonce: 32 random bytes made when the session's task claims it, exactly once (a second claim fails and
 * is recorded: a `relay.claim_refused` event in the pair's chain and a security log line). The Sessions row
 * keeps it sealed under the user's key (record 'relay.nonce', runtime/shared/envelope.ts): whoever can read
 * the table, an account administrator included, cannot sign frames to or from the runtime with it.
 */
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { expression, isConditionFailure } from '../shared/expressions';
import type { RecordSealer } from '../shared/envelope';
import { newNonce } from '../shared/relay-mac';
import type { ControlPlaneSessionRow } from '../shared/rows';
import type { TaskIdentity } from './task-roles';

export interface SessionDeps {
  readonly doc: DynamoDBDocumentClient;
  readonly sessionsTable: string;
  readonly now: () => number;
}

export type SessionRow = ControlPlaneSessionRow;

export function taskIdOf(taskArn: string | undefined): string | undefined {
  return taskArn?.split('/').at(-1);
}

export async function readSession(deps: SessionDeps, pair: string): Promise<SessionRow | undefined> {
  const out = await deps.doc.send(
    new GetCommand({ TableName: deps.sessionsTable, Key: { pk: pair }, ConsistentRead: true }),
  );
  return out.Item as SessionRow | undefined;
}

/** The pair's session if its row names this task; undefined otherwise. */
export async function sessionOfTask(deps: SessionDeps, task: TaskIdentity): Promise<SessionRow | undefined> {
  const row = await readSession(deps, task.pair);
  return row?.sessionId && taskIdOf(row.taskArn) === task.taskId ? row : undefined;
}

export type ClaimResult =
  | { readonly ok: true; readonly nonce: Buffer; readonly session: SessionRow }
  | { readonly ok: false; readonly reclaim: boolean };

/** Seals and opens nonces under the pair's user key (the runtime relay's RecordSealer). */
export type NonceSealer = Pick<RecordSealer, 'seal' | 'open'>;

/** Makes the session's nonce for its task and stores it sealed: succeeds once per session. */
export async function claimNonce(
  deps: SessionDeps,
  sealer: NonceSealer,
  task: TaskIdentity,
  session: SessionRow,
): Promise<ClaimResult> {
  const nonce = newNonce();
  const sealed = await sealer.seal(
    { userId: task.userId, agentId: task.agentId, record: 'relay.nonce' },
    nonce.toString('base64url'),
  );
  try {
    const out = await deps.doc.send(
      new UpdateCommand({
        TableName: deps.sessionsTable,
        Key: { pk: task.pair },
        ReturnValues: 'ALL_NEW',
        ...expression(
          {
            UpdateExpression: 'SET #relayClaimedAt = :now, #relayTask = :task, #relayNonce = :sealed',
            ConditionExpression: '#sessionId = :sid AND #taskArn = :arn AND attribute_not_exists(#relayClaimedAt)',
          },
          { now: deps.now(), task: task.taskId, sid: session.sessionId, arn: session.taskArn, sealed },
        ),
      }),
    );
    return { ok: true, nonce, session: out.Attributes as SessionRow };
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
  const now = await readSession(deps, task.pair);
  return { ok: false, reclaim: now?.sessionId === session.sessionId && now?.relayClaimedAt !== undefined };
}

/**
 * The nonce of a session its task has claimed, for verifying that task's frames; undefined when the row
 * names another session or task, or its nonce does not open as this pair's (written by someone else).
 */
export async function claimedNonce(
  sealer: NonceSealer,
  session: SessionRow | undefined,
  task: TaskIdentity,
  sessionId: string,
): Promise<Buffer | undefined> {
  if (!session || session.sessionId !== sessionId || session.relayTask !== task.taskId || !session.relayNonce)
    return undefined;
  try {
    return Buffer.from(
      await sealer.open({ userId: task.userId, agentId: task.agentId, record: 'relay.nonce' }, session.relayNonce),
      'base64url',
    );
  } catch (error) {
    if ((error as Error).name !== 'SealError') throw error;
    return undefined;
  }
}
