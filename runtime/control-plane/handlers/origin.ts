import { parseEnv } from '../env';
import { envSchema, matching } from '../env-rules';
import type { HttpEvent, HttpResult } from '../http';
import type { OriginCheckLog } from '../origin-verify';
import { ORIGIN_VERIFY_SECRET_ENV } from '../../shared/function-contract';
import { lazy } from './lazy';

export const ORIGIN_ENV = envSchema({
  [ORIGIN_VERIFY_SECRET_ENV]: matching(
    /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/,
    'must be a Secrets Manager secret ARN',
  ),
});

/**
 * The entry's handler behind the origin check (runtime/control-plane/origin-verify.ts). The secret ARN
 * is validated at cold start; the check itself (node:crypto) and the Secrets Manager client load on the
 * first request. Each call passes the invocation's logger.
 */
export function originChecked(
  handler: (event: HttpEvent) => Promise<HttpResult>,
): (event: HttpEvent, log: OriginCheckLog) => Promise<HttpResult> {
  const secretArn = parseEnv(ORIGIN_ENV)[ORIGIN_VERIFY_SECRET_ENV];
  const check = lazy(async () => {
    const { OriginVerifier, withOriginCheck } = await import('../origin-verify.js');
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
    return (log: OriginCheckLog) => withOriginCheck(verifier, log, handler);
  });
  return async (event, log) => (await check())(log)(event);
}
