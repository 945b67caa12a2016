import type { Context } from 'aws-lambda';
import { parseEnv } from '../../control-plane/env';
import { lazy } from '../../control-plane/handlers/lazy';
import { functionLogger } from '../../control-plane/handlers/logger';
import { deferredChainKey } from '../../control-plane/handlers/chain-key';
import { deferredSealer } from '../../control-plane/handlers/sealer';
import { loadRosterFile } from '../../control-plane/roster';
import type { EventLog } from '../../shared/event-log';
import { RELAY_ENV, RUNTIME_RELAY_ENV } from '../env';
import type { WsEvent, WsResult } from '../ws-event';
import { deferredPoster } from './poster';

const env = parseEnv(RUNTIME_RELAY_ENV);
const roster = loadRosterFile();

const ready = lazy(async () => {
  const [logger, { documentClient }, { createRuntimeHandler }, { UsageLedger }, { RoleDirectory }, { rosterLimits }] =
    await Promise.all([
      functionLogger(),
      import('../../control-plane/aws/dynamo.js'),
      import('../runtime-side.js'),
      import('../../shared/budget.js'),
      // Both import the DynamoDB document client: on the first connect, not at cold start (issue 15).
      import('../runtime-auth.js'),
      import('../runtime-usage.js'),
    ]);
  const doc = documentClient();
  const handle = createRuntimeHandler({
    doc,
    budgets: { ledger: new UsageLedger(doc, env[RELAY_ENV.usageTable]), limitsOf: rosterLimits(roster) },
    sessionsTable: env[RELAY_ENV.sessionsTable],
    inboxTable: env[RELAY_ENV.inboxTable],
    eventsTable: env[RELAY_ENV.eventsTable],
    approvalsTable: env[RELAY_ENV.approvalsTable],
    connectionsTable: env[RELAY_ENV.connectionsTable],
    eventLogs: new Map<string, EventLog>(),
    chain: deferredChainKey(env[RELAY_ENV.chainKey]),
    sealer: deferredSealer(env[RELAY_ENV.deployment]),
    runtimes: deferredPoster(env[RELAY_ENV.runtimeEndpoint]),
    roles: new RoleDirectory(env[RELAY_ENV.deployment], roster, env[RELAY_ENV.account]),
    log: logger,
    now: Date.now,
  });
  return { logger, handle };
});

export async function handler(event: WsEvent, context: Context): Promise<WsResult> {
  const { logger, handle } = await ready();
  logger.addContext(context);
  return handle(event);
}
