/**
 * The employee API as the console and the CLI call it. Paths come from the route registry the handlers
 * and the stack use (runtime/control-plane/routes.ts), so a client cannot call a route that does not exist.
 * Errors follow the API's contract: 4xx `{message, requestId}` (the message is for the employee), 5xx
 * `{message, requestId}` with nothing else.
 */
import type { UsageView } from '../../../runtime/shared/usage';
import { API_ROUTES, CREDENTIAL_ROUTES, IDEMPOTENCY_HEADER } from '../../../runtime/control-plane/routes';

import type { SessionStatus } from '../../../runtime/shared/session-status';

export type { SessionStatus };

export interface AgentView {
  readonly agentId: string;
  readonly provider: string;
  readonly status: SessionStatus;
  readonly sessionId?: string;
  readonly startedAt?: string;
  readonly deadlineAt?: string;
  readonly lastActivityAt?: string;
  readonly stopReason?: string;
  readonly exitCode?: number;
  readonly wakePending: boolean;
  readonly providerCredential: boolean;
  readonly connections: readonly string[];
}

export interface AgentEvent {
  readonly seq: number;
  readonly type: string;
  readonly at: string;
  readonly requestId: string;
  readonly messageId?: string;
  readonly data: Record<string, unknown>;
}

export interface EventPage {
  readonly events: AgentEvent[];
  readonly cursor: string;
  readonly more: boolean;
}

export interface ApprovalView {
  readonly approvalId: string;
  readonly agentId: string;
  readonly messageId: string;
  readonly tool: string;
  readonly hosts: readonly string[];
  readonly summary: string;
  readonly createdAt: string;
  readonly expiresAt: string;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly requestId?: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Fills `{name}` segments of a route key; returns [method, path]. Values are path-escaped. */
export function routePath(routeKey: string, params: Record<string, string> = {}): [string, string] {
  const [method, template] = routeKey.split(' ');
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`route ${routeKey} needs ${name}`);
    return encodeURIComponent(value);
  });
  return [method, path];
}

export interface ApiClientOptions {
  readonly baseUrl: string;
  /** The current bearer token (refreshed by the caller when needed). */
  readonly token: () => Promise<string>;
  readonly fetch?: typeof fetch;
  /** Waits between retries of a send (tests shorten it). */
  readonly pause?: (ms: number) => Promise<void>;
}

/** Attempts of one send, and the wait before the second (growing linearly). */
export const SEND_ATTEMPTS = 4;
export const SEND_RETRY_MS = 1_000;

/** A fresh key for one message (crypto.randomUUID: browsers and Node alike). */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

export class ApiClient {
  private readonly fetcher: typeof fetch;
  private readonly pause: (ms: number) => Promise<void>;

  constructor(private readonly options: ApiClientOptions) {
    this.fetcher = options.fetch ?? ((...args) => fetch(...args));
    this.pause = options.pause ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async call<T>(
    routeKey: string,
    params: Record<string, string> = {},
    body?: unknown,
    query?: Record<string, string>,
    extraHeaders: Record<string, string> = {},
  ): Promise<T> {
    const [method, path] = routePath(routeKey, params);
    const url = new URL(`${this.options.baseUrl.replace(/\/$/, '')}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    const token = await this.options.token();
    let response: Response;
    try {
      response = await this.fetcher(url.toString(), {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...extraHeaders,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError('Cannot reach Cubicle. Check your network connection and try again.', 0);
    }
    const text = await response.text();
    let parsed: Record<string, unknown> = {};
    if (text) {
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = {};
      }
    }
    if (!response.ok) {
      const requestId = typeof parsed.requestId === 'string' ? parsed.requestId : undefined;
      throw new ApiError(errorMessage(response.status, parsed), response.status, requestId, parsed);
    }
    return parsed as T;
  }

  async agents(): Promise<AgentView[]> {
    return (await this.call<{ agents: AgentView[] }>(API_ROUTES.listAgents)).agents;
  }
  agent(agentId: string): Promise<AgentView> {
    return this.call(API_ROUTES.getAgent, { agentId });
  }
  wake(agentId: string): Promise<{ outcome: string; agent: AgentView }> {
    return this.call(API_ROUTES.wake, { agentId });
  }
  sleep(agentId: string): Promise<{ outcome: string; agent: AgentView }> {
    return this.call(API_ROUTES.sleep, { agentId });
  }
  /**
   * Sends a message once, whatever the network does: one Idempotency-Key per message, and the same key on
   * each retry after a lost connection, a 5xx or a 409 "still being processed", so the API stores it once
   * and answers every attempt alike. A 4xx other than 409 is final.
   */
  async send(
    agentId: string,
    text: string,
    key: string = newIdempotencyKey(),
  ): Promise<{ messageId: string; outcome: string; agent: AgentView }> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.call(API_ROUTES.postMessage, { agentId }, { text }, undefined, { [IDEMPOTENCY_HEADER]: key });
      } catch (error) {
        const retryable =
          error instanceof ApiError && (error.status === 0 || error.status === 409 || error.status >= 500);
        if (!retryable || attempt >= SEND_ATTEMPTS) throw error;
        await this.pause(SEND_RETRY_MS * attempt);
      }
    }
  }
  events(agentId: string, after: number, limit = 200): Promise<EventPage> {
    return this.call(API_ROUTES.listEvents, { agentId }, undefined, { after: String(after), limit: String(limit) });
  }
  async approvals(): Promise<ApprovalView[]> {
    return (await this.call<{ approvals: ApprovalView[] }>(API_ROUTES.listApprovals)).approvals;
  }
  decide(
    approvalId: string,
    agentId: string,
    decision: 'approve' | 'deny',
  ): Promise<{ approvalId: string; decision: string }> {
    return this.call(API_ROUTES.decideApproval, { id: approvalId }, { agentId, decision });
  }
  /** This month's spend and limits (GET /v1/usage). */
  usage(): Promise<UsageView> {
    return this.call(API_ROUTES.usage);
  }
  storeProviderCredential(provider: string, value: string): Promise<unknown> {
    return this.call(CREDENTIAL_ROUTES.provider, { provider }, { value });
  }
  storeConnectionCredential(connection: string, value: string): Promise<unknown> {
    return this.call(CREDENTIAL_ROUTES.connection, { connection }, { value });
  }

  /** Every event after `after`, page by page (the API pages forward only). */
  async *eventsFrom(agentId: string, after: number): AsyncGenerator<AgentEvent[]> {
    let cursor = after;
    for (;;) {
      const page = await this.events(agentId, cursor);
      if (page.events.length > 0) yield page.events;
      cursor = Number(page.cursor);
      if (!page.more) return;
    }
  }

  /** The sequence number of the agent's last event (0 when none). */
  async lastSeq(agentId: string, after = 0): Promise<number> {
    let last = after;
    for await (const events of this.eventsFrom(agentId, after)) last = events[events.length - 1].seq;
    return last;
  }
}

/** What to tell the employee for a failed call: the API's own words for 4xx, a plain sentence otherwise. */
function errorMessage(status: number, body: Record<string, unknown>): string {
  const message = typeof body.message === 'string' && body.message ? body.message : undefined;
  if (status === 401) return 'Your sign-in has expired. Sign in again.';
  if (status === 429) return 'Too many requests right now. Wait a minute and try again.';
  if (status >= 500)
    return (
      message ??
      'Something went wrong on our side. Try again, and quote the request id to your platform team if it keeps happening.'
    );
  if (status === 403 && !message) return 'Cubicle refused this request.';
  return message ?? `The request failed (HTTP ${status}).`;
}

/** One line for an error, with the request id when there is one. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError)
    return error.requestId ? `${error.message} (request id: ${error.requestId})` : error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
