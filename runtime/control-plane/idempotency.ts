/**
 * Idempotent POST /v1/agents/{agentId}/messages: a request with an `Idempotency-Key` header claims
 * (pair, key) with one conditional write (attribute_not_exists) in the Idempotency table. The claim fixes
 * the message id, so however many retries race, the inbox holds one message; the first answer is
 * stored and every retry gets it back. A retry while the first is still running waits for its answer.
 *
 * A claim whose request ended without an answer (a 5xx, or a function that died) is taken over by the
 * next retry after its lock lapses; it stores the message under the claimed id (a second put of that id
 * finds the row and stores nothing) and wakes the agent again.
 */
import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PARTITION_KEY, SORT_KEY } from '../shared/tables';
import { expression, isConditionFailure } from '../shared/expressions';
import { HttpError, type HttpResult } from './http';
import { IDEMPOTENCY_HEADER } from './routes';

/** API Gateway (payload 2.0) hands headers over in lower case (the name lives with the routes, for the clients). */
export { IDEMPOTENCY_HEADER };
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * A key the platform itself claims in the Idempotency table (a schedule's firing, a notification): it
 * starts with `#`, which IDEMPOTENCY_KEY_PATTERN never admits, so no client's key can meet or pre-claim it.
 */
export function platformKey(...parts: readonly (string | number)[]): string {
  return `#${parts.join('#')}`;
}
export const IDEMPOTENCY_KEY_RULE = '1-128 letters, digits, "-", "_", "." or ":" (a UUID is a good key)';
/** How long a key is remembered (the table's TTL removes the row after it). */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/** A claim without an answer after this long is taken over by the next retry (the API function's timeout). */
export const IDEMPOTENCY_LOCK_MS = 30_000;

export interface IdempotencyDeps {
  readonly doc: DynamoDBDocumentClient;
  readonly idempotencyTable: string;
  readonly now: () => number;
  /** How long a retry waits for a running first request's answer. @default 20 s */
  readonly waitMs?: number;
}

interface IdempotencyRow {
  readonly pk: string;
  readonly sk: string;
  readonly fingerprint: string;
  readonly messageId: string;
  readonly lockedUntil: number;
  readonly expiresAt: number;
  readonly answer?: { readonly statusCode: number; readonly body: string };
}

/** The header's key, undefined without one; a malformed key is a 400. */
export function idempotencyKeyOf(headers: Record<string, string | undefined> | undefined): string | undefined {
  const key = headers?.[IDEMPOTENCY_HEADER];
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY_PATTERN.test(key))
    throw new HttpError(400, `The Idempotency-Key header must be ${IDEMPOTENCY_KEY_RULE}.`);
  return key;
}

/** What makes two requests "the same": the route and the validated body. */
export function fingerprintOf(route: string, body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify([route, body]))
    .digest('base64url');
}

/**
 * Runs `work` once per (pk, key): `work` receives the message id the key claimed and must store the
 * message under it idempotently. Returns its answer, or the stored answer of an earlier request.
 */
export async function runIdempotent(
  deps: IdempotencyDeps,
  pk: string,
  key: string,
  fingerprint: string,
  newMessageId: () => string,
  work: (messageId: string) => Promise<HttpResult>,
): Promise<HttpResult> {
  const table = deps.idempotencyTable;
  const itemKey = { [PARTITION_KEY]: pk, [SORT_KEY]: key };
  // The wait is real time (it sleeps), whatever clock the rows use.
  const deadline = performance.now() + (deps.waitMs ?? 20_000);
  for (let pause = 25; ; pause = Math.min(pause * 2, 500)) {
    const now = deps.now();
    const messageId = newMessageId();
    const claim: IdempotencyRow = {
      pk,
      sk: key,
      fingerprint,
      messageId,
      lockedUntil: now + IDEMPOTENCY_LOCK_MS,
      expiresAt: Math.floor(now / 1000) + IDEMPOTENCY_TTL_SECONDS,
    };
    try {
      await deps.doc.send(
        new PutCommand({
          TableName: table,
          Item: claim,
          ...expression({ ConditionExpression: `attribute_not_exists(#${SORT_KEY})` }),
        }),
      );
      return await finish(deps, itemKey, claim, work);
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }

    const out = await deps.doc.send(new GetCommand({ TableName: table, Key: itemKey, ConsistentRead: true }));
    const row = out.Item as IdempotencyRow | undefined;
    if (row) {
      if (row.fingerprint !== fingerprint) {
        throw new HttpError(
          422,
          `Idempotency-Key "${key}" was already used with a different request: send this request with a new key.`,
          {
            conflict: 'idempotency-key-reused',
            idempotencyKey: key,
          },
        );
      }
      if (row.answer) return replay(row.answer);
      if (row.lockedUntil <= now) {
        const taken = await takeOver(deps, itemKey, row, now);
        if (taken) return finish(deps, itemKey, taken, work);
      }
    }
    if (performance.now() >= deadline) {
      throw new HttpError(
        409,
        'A request with this Idempotency-Key is still being processed: retry in a few seconds.',
        {
          conflict: 'idempotency-key-in-progress',
          idempotencyKey: key,
        },
      );
    }
    await delay(pause);
  }
}

async function finish(
  deps: IdempotencyDeps,
  itemKey: Record<string, string>,
  claim: IdempotencyRow,
  work: (messageId: string) => Promise<HttpResult>,
): Promise<HttpResult> {
  let result: HttpResult;
  try {
    result = await work(claim.messageId);
  } catch (error) {
    await release(deps, itemKey, claim);
    throw error;
  }
  const status = result.statusCode ?? 200;
  // A 5xx is not the answer to keep: the next retry takes the claim over and tries again (same message id).
  if (status >= 500) {
    await release(deps, itemKey, claim);
    return result;
  }
  await deps.doc
    .send(
      new UpdateCommand({
        TableName: deps.idempotencyTable,
        Key: itemKey,
        ...expression(
          {
            UpdateExpression: 'SET #answer = :answer',
            ConditionExpression: '#lockedUntil = :locked AND #messageId = :mid',
          },
          {
            answer: { statusCode: status, body: String(result.body ?? '') },
            locked: claim.lockedUntil,
            mid: claim.messageId,
          },
        ),
      }),
    )
    .catch((error: unknown) => {
      // Someone took the claim over meanwhile (this request outlived its lock): their answer stands.
      if (!isConditionFailure(error)) throw error;
    });
  return result;
}

/** Ends a claim without an answer now, so the next retry need not wait for the lock to lapse. */
async function release(deps: IdempotencyDeps, itemKey: Record<string, string>, claim: IdempotencyRow): Promise<void> {
  await deps.doc
    .send(
      new UpdateCommand({
        TableName: deps.idempotencyTable,
        Key: itemKey,
        ...expression(
          { UpdateExpression: 'SET #lockedUntil = :zero', ConditionExpression: '#lockedUntil = :locked' },
          { zero: 0, locked: claim.lockedUntil },
        ),
      }),
    )
    .catch((error: unknown) => {
      if (!isConditionFailure(error)) throw error;
    });
}

async function takeOver(
  deps: IdempotencyDeps,
  itemKey: Record<string, string>,
  row: IdempotencyRow,
  now: number,
): Promise<IdempotencyRow | undefined> {
  const lockedUntil = now + IDEMPOTENCY_LOCK_MS;
  try {
    await deps.doc.send(
      new UpdateCommand({
        TableName: deps.idempotencyTable,
        Key: itemKey,
        ...expression(
          {
            UpdateExpression: 'SET #lockedUntil = :next',
            ConditionExpression: '#lockedUntil = :seen AND attribute_not_exists(#answer)',
          },
          { next: lockedUntil, seen: row.lockedUntil },
        ),
      }),
    );
    return { ...row, lockedUntil };
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}

function replay(answer: NonNullable<IdempotencyRow['answer']>): HttpResult {
  return {
    statusCode: answer.statusCode,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    },
    body: answer.body,
  };
}
