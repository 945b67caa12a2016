import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { parseEnv } from '../../control-plane/env';
import { lazy } from '../../control-plane/handlers/lazy';
import { loadRosterFile } from '../../control-plane/roster';
import { rosterLimits } from '../runtime-usage';
import type { EventLog } from '../../shared/event-log';
import { RELAY_ENV, RUNTIME_RELAY_ENV } from '../env';
import { RoleDirectory } from '../runtime-auth';
import type { WsEvent, WsResult } from '../ws-event';
import { loadSealer } from './sealer';

const logger = new Logger();
const env = parseEnv(RUNTIME_RELAY_ENV);
const roster = loadRosterFile();
const roles = new RoleDirectory(env[RELAY_ENV.deployment], roster, env[RELAY_ENV.account]);

const ready = lazy(async () => {
  const [
    { documentClient },
    { managementClient, managementPoster },
    { createRuntimeHandler },
    sealer,
    { UsageLedger },
  ] = await Promise.all([
    import('../../control-plane/aws/dynamo.js'),
    import('../poster.js'),
    import('../runtime-side.js'),
    loadSealer(env[RELAY_ENV.deployment]),
    import('../../shared/budget.js'),
  ]);
  const { chainKey } = await import('../../control-plane/aws/kms.js');
  const doc = documentClient();
  return createRuntimeHandler({
    doc,
    budgets: { ledger: new UsageLedger(doc, env[RELAY_ENV.usageTable]), limitsOf: rosterLimits(roster) },
    sessionsTable: env[RELAY_ENV.sessionsTable],
    inboxTable: env[RELAY_ENV.inboxTable],
    eventsTable: env[RELAY_ENV.eventsTable],
    approvalsTable: env[RELAY_ENV.approvalsTable],
    connectionsTable: env[RELAY_ENV.connectionsTable],
    eventLogs: new Map<string, EventLog>(),
    chain: chainKey(env[RELAY_ENV.chainKey]),
    sealer,
    runtimes: managementPoster(managementClient(env[RELAY_ENV.runtimeEndpoint])),
    roles,
    log: logger,
    now: Date.now,
  });
});

export async function handler(event: WsEvent, context: Context): Promise<WsResult> {
  logger.addContext(context);
  return (await ready())(event);
}
