/**
 * HTTP plumbing shared by the API functions: JSON responses, body validation with messages an
 * employee understands, and the error contract (4xx: a message; 5xx: only the request id).
 */
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Logger } from '@aws-lambda-powertools/logger';
import type * as z from 'zod/mini';
// The authenticator's module, not the auth index: that one also exports the JWT verifier (aws-jwt-verify), which
// every function that reads a request's records would otherwise load (issue 15).
import { bearerFromHeaders, NOT_ON_ROSTER, NOT_SIGNED_IN, type Authenticator } from './auth/authenticator';
import type { RosterUser } from './roster';

export type HttpEvent = APIGatewayProxyEventV2WithJWTAuthorizer;
export type HttpResult = APIGatewayProxyStructuredResultV2;

/** A failure the caller can act on; its message is shown to the employee as is. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const notFound = (what: string) => new HttpError(404, `${what} not found`);

const HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return { statusCode: status, headers: { ...HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** A 5xx tells the caller nothing but the request id to quote; the details go to CloudWatch. */
export function serverError(requestId: string, status = 500): HttpResult {
  return json(status, {
    message: 'Something went wrong on our side. Quote this request id to your platform team.',
    requestId,
  });
}

const MAX_BODY_BYTES = 256 * 1024;

/** Parses and validates a JSON body; every problem becomes a 400 naming the field. */
export function parseBody<T extends z.ZodMiniType>(event: HttpEvent, schema: T): z.output<T> {
  if (event.body === undefined || event.body === null || event.body === '') {
    throw new HttpError(400, 'The request needs a JSON body.');
  }
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) throw new HttpError(413, 'The request body is too large.');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'The request body is not valid JSON.');
  }
  return validate(schema, value, 'body');
}

export function validate<T extends z.ZodMiniType>(schema: T, value: unknown, where: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new HttpError(400, `Invalid ${where}: ${result.error.issues.map(describeIssue).join('; ')}`);
}

/** zod/mini ships no messages; these say what to change without echoing the input. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length > 0 ? issue.path.join('.') : 'the value';
  if (issue.message && issue.message !== 'Invalid input') return `${field} ${issue.message}`;
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? `${field} is required` : `${field} must be ${article(issue.expected)}`;
    case 'too_small':
      return issue.origin === 'string'
        ? `${field} must not be shorter than ${issue.minimum} characters`
        : `${field} must be at least ${issue.minimum}`;
    case 'too_big':
      return issue.origin === 'string'
        ? `${field} must not be longer than ${issue.maximum} characters`
        : `${field} must be at most ${issue.maximum}`;
    case 'invalid_value':
      return `${field} must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_format':
      return `${field} has the wrong format`;
    default:
      return `${field} is invalid`;
  }
}

function article(type: string): string {
  return /^[aeio]/.test(type) ? `an ${type}` : `a ${type}`;
}

/**
 * Shared by both API functions: request id and user on every log line, identity from the bearer token
 * this function verifies itself (`Authorization` header), errors mapped to the API's contract. API
 * Gateway's JWT authorizer stays in front, but its claims are never read: a direct invoke with made-up
 * claims is a 401. Never logs the event, bodies or tokens.
 */
export async function handleWithIdentity(
  logger: Logger,
  auth: Authenticator,
  event: HttpEvent,
  run: (user: RosterUser, requestId: string) => Promise<HttpResult>,
): Promise<HttpResult> {
  const requestId = event.requestContext?.requestId ?? 'unknown';
  logger.appendKeys({ request_id: requestId });
  let result: HttpResult;
  try {
    const identity = await auth.authenticate(bearerFromHeaders(event.headers));
    if (!identity.ok) {
      if (identity.status === 401) logger.warn('token refused', { reason: identity.reason });
      result = json(
        identity.status,
        { message: identity.status === 401 ? NOT_SIGNED_IN : NOT_ON_ROSTER, requestId },
        identity.status === 401 ? { 'www-authenticate': 'Bearer' } : {},
      );
    } else {
      logger.appendKeys({ user_id: identity.user.id });
      result = await run(identity.user, requestId);
    }
  } catch (error) {
    if (error instanceof HttpError) {
      result = json(error.status, { message: error.message, ...error.extra, requestId });
    } else {
      logger.error('request failed', { error: error as Error });
      result = serverError(requestId);
    }
  }
  logger.info('request', { route: event.routeKey, status: result.statusCode });
  logger.resetKeys();
  return result;
}
