import { describe, expect, it } from 'vitest';
import { TOKEN_ENV_SCHEMA } from '../../../runtime/control-plane/auth/token-settings';
import {
  API_ENV,
  ARCHIVE_ENV,
  CREDENTIALS_ENV,
  LAUNCHER_ENV,
  launchSettings,
  LIFECYCLE_ENV,
  NOTIFIER_ENV,
  parseEnv,
  SCHEDULED_RUN_ENV,
  taskNetwork,
} from '../../../runtime/control-plane/env';
import { ORIGIN_ENV } from '../../../runtime/control-plane/handlers/origin';
import { DEVICE_RELAY_ENV, FANOUT_RELAY_ENV, RUNTIME_RELAY_ENV } from '../../../runtime/relay/env';
import { FUNCTION_ENV } from './support/fixtures';

const GOOD = {
  CUBICLE_DEPLOYMENT: 'acme',
  CUBICLE_CLUSTER_ARN: 'arn:aws:ecs:eu-west-1:111111111111:cluster/acme-cluster',
  CUBICLE_SUBNET_IDS: 'subnet-0aaa,subnet-0bbb',
  CUBICLE_SECURITY_GROUP_IDS: 'sg-0a9e17',
  CUBICLE_MAX_TASK_DURATION_MS: '7200000',
  CUBICLE_IDLE_TIMEOUT_MS: '900000',
  CUBICLE_LAUNCHER_FUNCTION: 'acme-ControlPlane-LauncherFunction-AbC123',
  CUBICLE_SESSIONS_TABLE: 'acme-Platform-Sessions',
  CUBICLE_INBOX_TABLE: 'acme-Platform-Inbox',
  CUBICLE_EVENTS_TABLE: 'acme-Platform-Events',
  CUBICLE_APPROVALS_TABLE: 'acme-Platform-Approvals',
  CUBICLE_CHAIN_KEY_ARN: 'arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-4000-8000-000000000000',
};

describe('environment at cold start', () => {
  it("the benchmark's cold-start environment satisfies every function that reads one", () => {
    const schemas = [
      API_ENV,
      CREDENTIALS_ENV,
      LIFECYCLE_ENV,
      LAUNCHER_ENV,
      SCHEDULED_RUN_ENV,
      ARCHIVE_ENV,
      NOTIFIER_ENV,
      ORIGIN_ENV,
      TOKEN_ENV_SCHEMA,
      DEVICE_RELAY_ENV,
      RUNTIME_RELAY_ENV,
      FANOUT_RELAY_ENV,
    ];
    for (const schema of schemas) expect(() => parseEnv(schema, FUNCTION_ENV)).not.toThrow();
  });

  it('parses a complete environment', () => {
    const env = parseEnv(LIFECYCLE_ENV, GOOD);
    expect(launchSettings(env)).toEqual({
      deployment: 'acme',
      clusterArn: GOOD.CUBICLE_CLUSTER_ARN,
      maxTaskDurationMs: 7_200_000,
      idleTimeoutMs: 900_000,
    });
    expect(env.CUBICLE_LAUNCHER_FUNCTION).toBe(GOOD.CUBICLE_LAUNCHER_FUNCTION);
    // Only the launcher knows the tasks' network: it alone runs them.
    expect(taskNetwork(parseEnv(LAUNCHER_ENV, GOOD))).toEqual({
      deployment: 'acme',
      clusterArn: GOOD.CUBICLE_CLUSTER_ARN,
      subnetIds: ['subnet-0aaa', 'subnet-0bbb'],
      securityGroupIds: ['sg-0a9e17'],
    });
    const credentials = {
      CUBICLE_DEPLOYMENT: 'acme',
      CUBICLE_EVENTS_TABLE: 'acme-Events',
      CUBICLE_CHAIN_KEY_ARN: GOOD.CUBICLE_CHAIN_KEY_ARN,
    };
    expect(parseEnv(CREDENTIALS_ENV, credentials)).toEqual(credentials);
  });

  it('names every missing or malformed variable, never its value', () => {
    const { CUBICLE_INBOX_TABLE: _omit, ...missing } = GOOD;
    const bad = {
      ...missing,
      CUBICLE_SUBNET_IDS: 'subnet-0aaa,not-a-subnet',
      CUBICLE_IDLE_TIMEOUT_MS: '-5',
      CUBICLE_CLUSTER_ARN: 'hunter2',
    };
    expect(() => parseEnv(API_ENV, bad)).toThrow(/CUBICLE_INBOX_TABLE is not set/);
    expect(() => parseEnv(LAUNCHER_ENV, bad)).toThrow(/CUBICLE_SUBNET_IDS must be comma-separated subnet ids/);
    const message = (() => {
      try {
        parseEnv(API_ENV, { ...bad, CUBICLE_LAUNCHER_FUNCTION: 'not a name!' });
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toMatch(/CUBICLE_LAUNCHER_FUNCTION must be a Lambda function name/);
    expect(message).toMatch(/CUBICLE_IDLE_TIMEOUT_MS must be positive/);
    expect(message).toMatch(/CUBICLE_CLUSTER_ARN must be an ECS cluster ARN/);
    expect(message).not.toContain('hunter2');
  });
});
