import type { Context } from 'aws-lambda';
import { ENV, NOTIFIER_ENV, parseEnv } from '../env';
import { deferred, lazy } from './lazy';
import { functionLogger } from './logger';

const env = parseEnv(NOTIFIER_ENV);

const ready = lazy(async () => {
  const [logger, { documentClient }, { traced }, { loadRosterFile }, notifications] = await Promise.all([
    functionLogger(),
    import('../aws/dynamo.js'),
    import('../aws/tracing.js'),
    import('../roster.js'),
    import('../notifications.js'),
  ]);
  const deps = {
    // On the first mail: a request for an event already mailed, or over the user's hourly limit, sends none.
    ses: deferred(async () => traced(new (await import('@aws-sdk/client-sesv2')).SESv2Client({})), ['send']),
    doc: documentClient(),
    idempotencyTable: env[ENV.idempotencyTable],
    roster: loadRosterFile(),
    from: env[ENV.mailFrom],
    consoleUrl: env[ENV.consoleUrl],
    now: Date.now,
    log: logger,
  };
  return (request: unknown) => {
    const r = request as { pk?: unknown; sk?: unknown; type?: unknown };
    // Only the archiver invokes this function; anything else is not a notified event.
    if (typeof r?.pk !== 'string' || typeof r.sk !== 'number' || typeof r.type !== 'string')
      throw new Error('not a notification request');
    return notifications.notify(deps, { pk: r.pk, sk: r.sk, type: r.type });
  };
});

/** Invoked asynchronously by the audit archiver with `{ pk, sk, type }` of a notified event. */
export async function handler(event: unknown, context: Context): Promise<{ outcome: string }> {
  const logger = await functionLogger();
  logger.addContext(context);
  return { outcome: await (await ready())(event) };
}
