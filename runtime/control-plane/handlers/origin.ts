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
 * The origin check's verifier over the secret's values (runtime/control-plane/origin-verify.ts), built on its first
 * use: the check itself (node:crypto) loads then, and the Secrets Manager client only when a check must read the
 * secret, so a request without the header is refused before it loads. The HTTP functions (originChecked) and the
 * device relay's `$connect` share it.
 */
export function originVerifier(secretArn: string) {
  return lazy(async () => {
    const originVerify = await import('../origin-verify.js');
    let fetchValues: (() => Promise<readonly string[]>) | undefined;
    const verifier = new originVerify.OriginVerifier({
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
    return { verifier, originVerify };
  });
}

/**
 * The entry's handler behind the origin check (originVerifier). The secret ARN is validated at cold start. Each call
 * passes the invocation's logger.
 */
export function originChecked(
  handler: (event: HttpEvent) => Promise<HttpResult>,
): (event: HttpEvent, log: OriginCheckLog) => Promise<HttpResult> {
  const origin = originVerifier(parseEnv(ORIGIN_ENV)[ORIGIN_VERIFY_SECRET_ENV]);
  return async (event, log) => {
    const { verifier, originVerify } = await origin();
    return originVerify.withOriginCheck(verifier, log, handler)(event);
  };
}
