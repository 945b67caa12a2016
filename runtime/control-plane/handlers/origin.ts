import type { Logger } from '@aws-lambda-powertools/logger';
import * as z from 'zod/mini';
import { parseEnv } from '../env';
import type { HttpEvent, HttpResult } from '../http';
import { ORIGIN_VERIFY_SECRET_ENV, OriginVerifier, withOriginCheck } from '../origin-verify';

export const ORIGIN_ENV = z.object({
  [ORIGIN_VERIFY_SECRET_ENV]: z
    .string()
    .check(
      z.regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/, 'must be a Secrets Manager secret ARN'),
    ),
});

/**
 * The entry's handler behind the origin check (runtime/control-plane/origin-verify.ts). The secret ARN
 * is validated at cold start; the Secrets Manager client loads on the first request.
 */
export function originChecked(
  logger: Logger,
  handler: (event: HttpEvent) => Promise<HttpResult>,
): (event: HttpEvent) => Promise<HttpResult> {
  const secretArn = parseEnv(ORIGIN_ENV)[ORIGIN_VERIFY_SECRET_ENV];
  let fetchValues: (() => Promise<readonly string[]>) | undefined;
  const verifier = new OriginVerifier({
    now: Date.now,
    fetchValues: async () => {
      if (!fetchValues) {
        const [{ secretsClient }, { originSecretFetcher }] = await Promise.all([
          import('../aws/secrets.js'),
          import('../aws/origin-secret.js'),
        ]);
        fetchValues = originSecretFetcher(secretsClient(), secretArn);
      }
      return fetchValues();
    },
  });
  return withOriginCheck(verifier, logger, handler);
}
