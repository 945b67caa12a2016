/**
 * The employee API (everything but credentials): routes over the lifecycle and record modules.
 * The user is the roster user of the verified token; an agent is addressed only among that user's
 * agents, so another user's agent and an unknown one are the same plain 404.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import * as z from 'zod/mini';
import { ID_MAX_LENGTH, ID_PATTERN } from '../shared/ids';
import { newSortableId, SORTABLE_ID_PATTERN, type ApprovalRow } from '../shared/rows';
import { openApproval, openEvent, type Unreadable } from '../shared/sealed-rows';
import { pairKey } from '../shared/tables';
import type { Authenticator } from './auth';
import {
  handleWithIdentity,
  HttpError,
  json,
  notFound,
  parseBody,
  validate,
  type HttpEvent,
  type HttpResult,
} from './http';
import { eventView } from './event-view';
import { fingerprintOf, idempotencyKeyOf, runIdempotent } from './idempotency';
import { ensureAwake, getSession, sleep, WakeFailed, type LifecycleDeps, type SessionRow } from './lifecycle';
import {
  decideApproval,
  getSessions,
  putMessage,
  readEventPage,
  readPendingApprovals,
  type RecordDeps,
} from './records';
import { API_ROUTES } from './routes';
import { usageView } from './usage-view';
import { agentOf, type RosterAgent, type RosterUser } from './roster';
import { budgetRefusal } from './budget-gate';
import type { UsageLedger } from '../shared/budget';

export interface ApiDeps {
  /** Verifies the bearer token and maps it to a roster user. */
  readonly auth: Authenticator;
  readonly lifecycle: LifecycleDeps;
  readonly records: RecordDeps;
  readonly logger: Logger;
  /** This month's usage counters; absent, only the kill switches of the roster are enforced. */
  readonly usage?: UsageLedger;
}

/** Largest message accepted; DynamoDB items are capped at 400 KB. */
export const MAX_MESSAGE_CHARS = 32_000;

const MESSAGE_BODY = z.strictObject({
  text: z
    .string()
    .check(
      z.minLength(1, 'must not be empty'),
      z.maxLength(MAX_MESSAGE_CHARS, `must be at most ${MAX_MESSAGE_CHARS} characters`),
    ),
});

const EVENTS_QUERY = z.strictObject({
  after: z.optional(
    z.string().check(z.regex(/^(0|[1-9]\d{0,14})$/, 'must be the cursor (a whole number) from a previous page')),
  ),
  limit: z.optional(z.string().check(z.regex(/^([1-9]\d?|1\d\d|200)$/, 'must be a whole number from 1 to 200'))),
});

const APPROVAL_BODY = z.strictObject({
  agentId: z
    .string()
    .check(z.maxLength(ID_MAX_LENGTH, 'is not one of your agents'), z.regex(ID_PATTERN, 'is not one of your agents')),
  decision: z.enum(['approve', 'deny']),
});

interface Call {
  readonly event: HttpEvent;
  readonly user: RosterUser;
  readonly requestId: string;
  readonly agent?: RosterAgent;
}

type Route = (deps: ApiDeps, call: Call) => Promise<HttpResult>;

const ROUTES: Record<string, Route> = {
  [API_ROUTES.listAgents]: listAgents,
  [API_ROUTES.getAgent]: getAgent,
  [API_ROUTES.wake]: wakeAgent,
  [API_ROUTES.sleep]: sleepAgent,
  [API_ROUTES.postMessage]: postMessage,
  [API_ROUTES.listEvents]: listEvents,
  [API_ROUTES.listApprovals]: listApprovals,
  [API_ROUTES.decideApproval]: decide,
  [API_ROUTES.usage]: async (deps, { user }) => json(200, await usageView(deps.usage, user, deps.records.now())),
};

export function createApiHandler(deps: ApiDeps): (event: HttpEvent) => Promise<HttpResult> {
  return (event) =>
    handleWithIdentity(deps.logger, deps.auth, event, async (user, requestId) => {
      const route = ROUTES[event.routeKey];
      if (!route) throw new HttpError(404, 'No such route.');
      if (route !== listEvents && Object.keys(event.queryStringParameters ?? {}).length > 0) {
        throw new HttpError(400, 'This route takes no query parameters.');
      }
      let agent: RosterAgent | undefined;
      if (event.routeKey.includes('{agentId}')) {
        agent = userAgent(user, event.pathParameters?.agentId);
        deps.logger.appendKeys({ agent_id: agent.id });
      }
      return route(deps, { event, user, requestId, agent });
    });
}

function userAgent(user: RosterUser, agentId: string | undefined): RosterAgent {
  const agent = agentId && ID_PATTERN.test(agentId) ? agentOf(user, agentId) : undefined;
  if (!agent) throw notFound('Agent');
  return agent;
}

export { eventView };

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export function agentView(agent: RosterAgent, row: SessionRow | undefined) {
  return {
    agentId: agent.id,
    provider: agent.provider,
    status: row?.status ?? 'STOPPED',
    sessionId: row?.sessionId,
    startedAt: iso(row?.startedAt),
    deadlineAt: iso(row?.deadlineAt),
    lastActivityAt: iso(row?.lastActivityAt),
    stopReason: row?.stopReason,
    exitCode: row?.exitCode,
    wakePending: row?.wakePending !== undefined,
    /** What the employee can store for this agent (PUT /v1/credentials/{provider}, /v1/connections/{c}/credential). */
    providerCredential: agent.providerSecret,
    connections: [...agent.secretConnections],
  };
}

async function listAgents(deps: ApiDeps, { user }: Call): Promise<HttpResult> {
  const rows = await getSessions(
    deps.records,
    user.agents.map((a) => pairKey(user.id, a.id)),
  );
  return json(200, { agents: user.agents.map((a) => agentView(a, rows.get(pairKey(user.id, a.id)))) });
}

async function getAgent(deps: ApiDeps, { user, agent }: Call): Promise<HttpResult> {
  const a = agent as RosterAgent;
  return json(200, agentView(a, await getSession(deps.lifecycle, pairKey(user.id, a.id))));
}

async function wakeAgent(deps: ApiDeps, { user, agent, requestId }: Call): Promise<HttpResult> {
  const a = agent as RosterAgent;
  try {
    const { outcome, session } = await ensureAwake(deps.lifecycle, user.id, a.id, requestId);
    return json(outcome === 'active' ? 200 : 202, { outcome, agent: agentView(a, session) });
  } catch (error) {
    if (error instanceof WakeFailed) return wakeFailed(requestId);
    throw error;
  }
}

function wakeFailed(requestId: string, extra: Record<string, unknown> = {}): HttpResult {
  return json(
    503,
    {
      message: 'The agent could not be started. Its status shows the reason; try again in a few minutes.',
      ...extra,
      requestId,
    },
    { 'retry-after': '60' },
  );
}

async function sleepAgent(deps: ApiDeps, { user, agent, requestId }: Call): Promise<HttpResult> {
  const a = agent as RosterAgent;
  const { outcome, session } = await sleep(deps.lifecycle, user.id, a.id, requestId);
  return json(outcome === 'stopping' ? 202 : 200, { outcome, agent: agentView(a, session) });
}

/**
 * Stores the message and wakes the agent. With an Idempotency-Key header, retries of the same request
 * store nothing more and get the first answer back (runtime/control-plane/idempotency.ts).
 */
async function postMessage(deps: ApiDeps, call: Call): Promise<HttpResult> {
  const { user, agent, event } = call;
  const key = idempotencyKeyOf(event.headers);
  const { text } = parseBody(event, MESSAGE_BODY);
  if (key === undefined) return gateThenStore(deps, call, text);
  const pk = pairKey(user.id, (agent as RosterAgent).id);
  // The gate runs inside: a retry of a message already stored gets its answer back even once the month is used
  // up, and a refusal (thrown) releases the key, so the same key works again once the budget allows.
  return runIdempotent(
    { doc: deps.records.doc, idempotencyTable: deps.records.idempotencyTable, now: deps.records.now },
    pk,
    key,
    fingerprintOf(API_ROUTES.postMessage, { text }),
    () => newSortableId(deps.records.now()),
    (messageId) => gateThenStore(deps, call, text, messageId),
  );
}

/** 402 before anything is stored: a switched-off agent or a used-up month takes no new work. */
async function gateThenStore(deps: ApiDeps, call: Call, text: string, claimedId?: string): Promise<HttpResult> {
  const refused = await budgetRefusal(deps.usage, call.user.id, call.agent as RosterAgent, deps.records.now());
  if (refused) {
    const { message, ...rest } = refused.body;
    throw new HttpError(refused.status, message, rest);
  }
  return storeAndWake(deps, call, text, claimedId);
}

async function storeAndWake(
  deps: ApiDeps,
  { user, agent, requestId }: Call,
  text: string,
  claimedId?: string,
): Promise<HttpResult> {
  const a = agent as RosterAgent;
  const messageId = await putMessage(deps.records, pairKey(user.id, a.id), text, requestId, { messageId: claimedId });
  try {
    const { outcome, session } = await ensureAwake(deps.lifecycle, user.id, a.id, requestId);
    return json(202, { messageId, outcome, agent: agentView(a, session) });
  } catch (error) {
    // The message is stored either way; it is processed on the next successful wake.
    if (error instanceof WakeFailed) return wakeFailed(requestId, { messageId });
    throw error;
  }
}

async function listEvents(deps: ApiDeps, { user, agent, event }: Call): Promise<HttpResult> {
  const a = agent as RosterAgent;
  const query = validate(EVENTS_QUERY, event.queryStringParameters ?? {}, 'query');
  const after = Number(query.after ?? '0');
  const page = await readEventPage(deps.records, pairKey(user.id, a.id), after, Number(query.limit ?? '50'));
  const last = page.events.at(-1)?.sk ?? after;
  const events = await Promise.all(
    page.events.map(async (row) => eventView(await openEvent(deps.records.sealer, row))),
  );
  return json(200, { events, cursor: String(last), more: page.more });
}

export function approvalView(agent: RosterAgent, row: ApprovalRow & Partial<Unreadable>) {
  return {
    approvalId: row.sk,
    agentId: agent.id,
    messageId: row.messageId,
    tool: row.tool,
    hosts: row.hosts,
    summary: row.summary,
    ...(row.unreadable !== undefined ? { unreadable: row.unreadable } : {}),
    createdAt: new Date(row.createdAt).toISOString(),
    expiresAt: new Date(row.expiresAt).toISOString(),
  };
}

/** The caller's pending approvals across their own agents (one bounded Query per agent), soonest to expire first. */
async function listApprovals(deps: ApiDeps, { user }: Call): Promise<HttpResult> {
  const perAgent = await Promise.all(
    user.agents.map(async (a) => {
      const rows = await readPendingApprovals(deps.records, pairKey(user.id, a.id));
      return Promise.all(rows.map(async (row) => approvalView(a, await openApproval(deps.records.sealer, row))));
    }),
  );
  const approvals = perAgent
    .flat()
    .sort((x, y) => x.expiresAt.localeCompare(y.expiresAt) || x.approvalId.localeCompare(y.approvalId));
  return json(200, { approvals });
}

async function decide(deps: ApiDeps, { user, event, requestId }: Call): Promise<HttpResult> {
  const approvalId = event.pathParameters?.id;
  if (!approvalId || !SORTABLE_ID_PATTERN.test(approvalId)) throw notFound('Approval');
  const body = parseBody(event, APPROVAL_BODY);
  const agent = agentOf(user, body.agentId);
  if (!agent) throw notFound('Approval');
  deps.logger.appendKeys({ agent_id: agent.id });
  const decision = body.decision === 'approve' ? 'approved' : 'denied';
  const result = await decideApproval(
    deps.records,
    pairKey(user.id, agent.id),
    approvalId,
    decision,
    user.id,
    requestId,
  );
  if (result.ok) return json(200, { approvalId, decision });
  if (result.why === 'not-found') throw notFound('Approval');
  throw new HttpError(
    409,
    result.why === 'expired' ? 'This approval has expired.' : `This approval was already ${result.status}.`,
    {
      status: result.status,
    },
  );
}
