/**
 * The employee API's routes, shared by the handlers (dispatch) and the CDK stack (API Gateway routes),
 * so a route cannot exist on one side only. Every route sits behind the JWT authorizer.
 */
export const API_ROUTES = {
  listAgents: 'GET /v1/agents',
  getAgent: 'GET /v1/agents/{agentId}',
  wake: 'POST /v1/agents/{agentId}/wake',
  sleep: 'POST /v1/agents/{agentId}/sleep',
  postMessage: 'POST /v1/agents/{agentId}/messages',
  listEvents: 'GET /v1/agents/{agentId}/events',
  listApprovals: 'GET /v1/approvals',
  decideApproval: 'POST /v1/approvals/{id}',
  /** This month's spend and limits of the caller and each of their agents (runtime/control-plane/usage-view.ts). */
  usage: 'GET /v1/usage',
} as const;

/** Served by the credential writer function. DELETE revokes: the secret returns to the vault's placeholder. */
export const CREDENTIAL_ROUTES = {
  provider: 'PUT /v1/credentials/{provider}',
  connection: 'PUT /v1/connections/{connection}/credential',
  revokeProvider: 'DELETE /v1/credentials/{provider}',
  revokeConnection: 'DELETE /v1/connections/{connection}/credential',
} as const;

/**
 * The header that makes POST /messages safe to retry (runtime/control-plane/idempotency.ts): clients send a
 * new key per message and the same key on every retry of it. HTTP headers are case-insensitive; API
 * Gateway hands them to the function lower-cased.
 */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
