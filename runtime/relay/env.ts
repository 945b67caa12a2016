/**
 * Environment of the relay functions, validated at cold start; the CDK side (lib/constructs/relay.ts)
 * sets each variable with the grant it needs.
 */
import { envSchema, matching } from '../control-plane/env-rules';
import { ID_PATTERN } from '../shared/ids';
import { RELAY_ENV } from '../shared/function-contract';

export { RELAY_ENV };

const tableName = matching(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name');
const endpoint = matching(/^https?:\/\/[^\s?#]+$/, 'must be an http(s) URL without query');

/** The device and fan-out sides open sealed records: they resolve user keys by the deployment's aliases. */
export const DEVICE_RELAY_ENV = envSchema({
  [RELAY_ENV.deployment]: matching(ID_PATTERN, 'must be the deployment name'),
  [RELAY_ENV.deviceEndpoint]: endpoint,
  [RELAY_ENV.eventsTable]: tableName,
  [RELAY_ENV.connectionsTable]: tableName,
});

export const RUNTIME_RELAY_ENV = envSchema({
  [RELAY_ENV.deployment]: matching(ID_PATTERN, 'must be the deployment name'),
  [RELAY_ENV.account]: matching(/^\d{12}$/, 'must be a 12-digit account id'),
  [RELAY_ENV.runtimeEndpoint]: endpoint,
  [RELAY_ENV.sessionsTable]: tableName,
  [RELAY_ENV.inboxTable]: tableName,
  [RELAY_ENV.eventsTable]: tableName,
  [RELAY_ENV.approvalsTable]: tableName,
  [RELAY_ENV.connectionsTable]: tableName,
  [RELAY_ENV.usageTable]: tableName,
  [RELAY_ENV.chainKey]: matching(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/, 'must be a KMS key ARN'),
});

export const FANOUT_RELAY_ENV = envSchema({
  [RELAY_ENV.deployment]: matching(ID_PATTERN, 'must be the deployment name'),
  [RELAY_ENV.deviceEndpoint]: endpoint,
  [RELAY_ENV.runtimeEndpoint]: endpoint,
  [RELAY_ENV.inboxTable]: tableName,
  [RELAY_ENV.eventsTable]: tableName,
  [RELAY_ENV.connectionsTable]: tableName,
});
