import type { Context } from 'aws-lambda';
import { parseEnv } from '../../control-plane/env';
import { deferredChainKey } from '../../control-plane/handlers/chain-key';
import { lazy } from '../../control-plane/handlers/lazy';
import { functionLogger } from '../../control-plane/handlers/logger';
import { deferredSealer } from '../../control-plane/handlers/sealer';
import { loadRosterFile } from '../../control-plane/roster';
import type { EventLog } from '../../shared/event-log';
import { RELAY_ENV, RUNTIME_RELAY_ENV } from '../env';
import type { WsEvent, WsResult } from '../ws-event';
import { deferredPoster } from './poster';

const env = parseEnv(RUNTIME_RELAY_ENV);
const roster = loadRosterFile();

/**
 * The role directory, on the first call: one entry per roster pair, and its role names need node:crypto, which an
 * ES module import would build at cold start (issue 15).
 */
const taskRoles = lazy(async () => {
  const { RoleDirectory, refuseUnknownCaller } = await import('../task-roles.js');
  const roles = new RoleDirectory(env[RELAY_ENV.deployment], roster, env[RELAY_ENV.account]);
  return { roles, refuseUnknownCaller };
});

const ready = lazy(async () => {
  const [logger, { roles }, { documentClient }, { createRuntimeHandler }, { UsageLedger }, { rosterLimits }] =
    await Promise.all([
      functionLogger(),
      taskRoles(),
      import('../../control-plane/aws/dynamo.js'),
      import('../runtime-side.js'),
      import('../../shared/budget.js'),
      // It imports the DynamoDB document client: on the first connect, not at cold start (issue 15).
      import('../runtime-usage.js'),
    ]);
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
    chain: deferredChainKey(env[RELAY_ENV.chainKey]),
    sealer: deferredSealer(env[RELAY_ENV.deployment]),
    runtimes: deferredPoster(env[RELAY_ENV.runtimeEndpoint]),
    roles,
    log: logger,
    now: Date.now,
  });
});

/**
 * A connect whose caller's role is no pair's task role is refused before the handler and its clients load: API Gateway
 * has checked the caller's signature, the role directory needs only the roster. The handler checks again, with the
 * session its task must be.
 */
export async function handler(event: WsEvent, context: Context): Promise<WsResult> {
  const logger = await functionLogger();
  logger.addContext(context);
  const { routeKey, requestId, identity } = event.requestContext;
  if (routeKey === '$connect') {
    const { roles, refuseUnknownCaller } = await taskRoles();
    if (!roles.identify(identity?.userArn)) return refuseUnknownCaller(logger, requestId, false);
  }
  return (await ready())(event);
}
