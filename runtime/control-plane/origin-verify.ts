/**
 * Origin protection: the employee API answers only requests that came through the Cubicle CloudFront
 * distribution. CloudFront adds a secret header to every origin request (lib/constructs/edge-distribution.ts);
 * the API and credential functions check it before anything else (routing, roster, body) and refuse
 * anything else with 403. The secret lives in Secrets Manager; both its current and its previous version
 * are accepted so that a rotation (README "Edge") never refuses CloudFront while the new value propagates
 * to the edge locations.
 *
 * Pure: the secret values come from an injected fetcher (aws/origin-secret.ts in Lambda).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ORIGIN_VERIFY_HEADER, ORIGIN_VERIFY_SECRET_ENV } from '../shared/function-contract';
import { json, type HttpEvent, type HttpResult } from './http';

export { ORIGIN_VERIFY_HEADER, ORIGIN_VERIFY_SECRET_ENV };

/** How long fetched values are trusted before they are read again. */
export const CACHE_TTL_MS = 5 * 60_000;
/**
 * A value that matches nothing cached triggers a re-read (a rotation may have happened) at most this
 * often per function instance, so a flood of forged headers costs at most one read per interval.
 */
export const MISMATCH_REFRESH_MS = 10_000;

export const REFUSED_MESSAGE = 'Requests to the Cubicle API must go through its CloudFront address.';

export interface OriginVerifierDeps {
  /** The values to accept (current, then previous if any); throws if they cannot be read. */
  readonly fetchValues: () => Promise<readonly string[]>;
  readonly now: () => number;
}

export type OriginVerdict = 'accepted' | 'refused' | 'unavailable';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Compares in constant time: both sides are hashed to 32 bytes first, so neither the length nor the
 * content of the expected value leaks through timing, and every candidate is compared.
 */
export function matchesAny(presented: string, expected: readonly string[]): boolean {
  const got = digest(presented);
  let match = false;
  for (const value of expected) {
    if (value.length === 0) continue;
    match = timingSafeEqual(got, digest(value)) || match;
  }
  return match;
}

export class OriginVerifier {
  private values: readonly string[] | undefined;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<readonly string[]> | undefined;

  constructor(private readonly deps: OriginVerifierDeps) {}

  /** `unavailable` only when no value could ever be read: the check fails closed. */
  async verify(presented: string | undefined): Promise<OriginVerdict> {
    if (presented === undefined || presented.length === 0) return 'refused';
    let values: readonly string[];
    try {
      values = this.values && this.deps.now() - this.fetchedAt < CACHE_TTL_MS ? this.values : await this.refresh();
    } catch (error) {
      if (!this.values) throw error;
      values = this.values; // keep serving with the last values read while Secrets Manager is unreachable
    }
    if (matchesAny(presented, values)) return 'accepted';
    if (this.deps.now() - this.fetchedAt < MISMATCH_REFRESH_MS) return 'refused';
    try {
      return matchesAny(presented, await this.refresh()) ? 'accepted' : 'refused';
    } catch {
      return 'refused';
    }
  }

  private refresh(): Promise<readonly string[]> {
    this.inFlight ??= this.deps
      .fetchValues()
      .then((values) => {
        this.values = values;
        this.fetchedAt = this.deps.now();
        return values;
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }
}

export interface OriginCheckLog {
  warn(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
}

/**
 * Wraps a function's handler so that the origin header is checked first. A refused request never
 * reaches the handler: no routing, no roster lookup, no body parsing. The header value is never logged.
 */
export function withOriginCheck(
  verifier: OriginVerifier,
  log: OriginCheckLog,
  handler: (event: HttpEvent) => Promise<HttpResult>,
): (event: HttpEvent) => Promise<HttpResult> {
  return async (event) => {
    const requestId = event.requestContext?.requestId ?? 'unknown';
    let verdict: OriginVerdict;
    try {
      verdict = await verifier.verify(headerValue(event, ORIGIN_VERIFY_HEADER));
    } catch (error) {
      log.error('origin secret unreadable: refusing the request', { request_id: requestId, error: error as Error });
      verdict = 'unavailable';
    }
    if (verdict === 'accepted') return handler(event);
    if (verdict === 'unavailable') {
      return json(
        503,
        { message: 'The Cubicle API is temporarily unavailable. Try again in a minute.', requestId },
        { 'retry-after': '60' },
      );
    }
    log.warn('request refused: it did not come through CloudFront', { request_id: requestId, route: event.routeKey });
    return json(403, { message: REFUSED_MESSAGE, requestId });
  };
}

function headerValue(event: HttpEvent, name: string): string | undefined {
  const headers = event.headers ?? {};
  if (headers[name] !== undefined) return headers[name];
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}
