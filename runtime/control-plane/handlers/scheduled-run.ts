import type { Context } from 'aws-lambda';
import { ENV, parseEnv, SCHEDULED_RUN_ENV } from '../env';
import { loadRosterFile } from '../roster';
import type { ScheduledRunResult } from '../scheduled-run';
import { lazy } from './lazy';
import { functionLogger } from './logger';
import { deferredSealer } from './sealer';

const env = parseEnv(SCHEDULED_RUN_ENV);
const roster = loadRosterFile();

const ready = lazy(async () => {
  const logger = await functionLogger();
  const [lifecycle, { runSchedule }, { UsageLedger }] = await Promise.all([
    import('./lifecycle-deps.js').then(({ loadLifecycleDeps }) => loadLifecycleDeps(env, logger)),
    import('../scheduled-run.js'),
    import('../../shared/budget.js'),
  ]);
  const records = {
    sealer: deferredSealer(env[ENV.deployment]),
    doc: lifecycle.doc,
    sessionsTable: env[ENV.sessionsTable],
    inboxTable: env[ENV.inboxTable],
    eventsTable: env[ENV.eventsTable],
    // Read by nothing here (the scheduled-run function answers no approvals); the type is shared with the API.
    approvalsTable: '',
    idempotencyTable: env[ENV.idempotencyTable],
    chain: lifecycle.chain,
    now: Date.now,
  };
  const usage = new UsageLedger(lifecycle.doc, env[ENV.usageTable]);
  return (event: unknown, requestId: string) =>
    runSchedule({ roster, records, lifecycle, log: logger, usage }, event, requestId);
});

/**
 * Invoked by EventBridge Scheduler (lib/constructs/scheduled-runs.ts) and by the pipeline's invoke role
 * with `{ "scheduleId": "<user>/<agent>/<schedule>" }` only; anything else fails the invocation with the
 * reason, before any client loads.
 */
export async function handler(event: unknown, context: Context): Promise<ScheduledRunResult> {
  const logger = await functionLogger();
  logger.addContext(context);
  logger.appendKeys({ request_id: context.awsRequestId });
  try {
    const { declaredSchedule } = await import('../scheduled-run.js');
    const { userId, agentId } = declaredSchedule(roster, event);
    logger.appendKeys({ user_id: userId, agent_id: agentId });
    const result = await (await ready())(event, context.awsRequestId);
    // A skipped run has logged its own line (scheduled-run.ts).
    if (result.messageId)
      logger.info('scheduled message posted', {
        schedule_id: result.scheduleId,
        message_id: result.messageId,
        outcome: result.outcome,
      });
    return result;
  } catch (error) {
    logger.error('scheduled run refused or failed', { error: error as Error });
    throw error;
  } finally {
    logger.resetKeys();
  }
}
