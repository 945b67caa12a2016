import { describe, expect, it } from 'vitest';
import {
  API_ENV,
  CREDENTIALS_ENV,
  LAUNCHER_ENV,
  launchSettings,
  LIFECYCLE_ENV,
  parseEnv,
  taskNetwork,
} from '../../../runtime/control-plane/env';
import { FUNCTION_ENV } from './support/fixtures';

const GOOD = {
  CUBICLE_DEPLOYMENT: 'acme',
  CLUSTER_ARN: 'arn:aws:ecs:eu-west-1:111111111111:cluster/acme-cluster',
  SUBNET_IDS: 'subnet-0aaa,subnet-0bbb',
  SECURITY_GROUP_IDS: 'sg-0a9e17',
  MAX_TASK_DURATION_MS: '7200000',
  IDLE_TIMEOUT_MS: '900000',
  LAUNCHER_FUNCTION: 'acme-ControlPlane-LauncherFunction-AbC123',
  SESSIONS_TABLE: 'acme-Platform-Sessions',
  INBOX_TABLE: 'acme-Platform-Inbox',
  EVENTS_TABLE: 'acme-Platform-Events',
  APPROVALS_TABLE: 'acme-Platform-Approvals',
  CUBICLE_CHAIN_KEY_ARN: 'arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-4000-8000-000000000000',
};

describe('environment at cold start', () => {
  it("the benchmark's cold-start environment satisfies every function that reads one", () => {
    for (const schema of [API_ENV, CREDENTIALS_ENV, LIFECYCLE_ENV, LAUNCHER_ENV])
      expect(() => parseEnv(schema, FUNCTION_ENV)).not.toThrow();
  });

  it('parses a complete environment', () => {
    const env = parseEnv(LIFECYCLE_ENV, GOOD);
    expect(launchSettings(env)).toEqual({
      deployment: 'acme',
      clusterArn: GOOD.CLUSTER_ARN,
      maxTaskDurationMs: 7_200_000,
      idleTimeoutMs: 900_000,
    });
    expect(env.LAUNCHER_FUNCTION).toBe(GOOD.LAUNCHER_FUNCTION);
    // Only the launcher knows the tasks' network: it alone runs them.
    expect(taskNetwork(parseEnv(LAUNCHER_ENV, GOOD))).toEqual({
      deployment: 'acme',
      clusterArn: GOOD.CLUSTER_ARN,
      subnetIds: ['subnet-0aaa', 'subnet-0bbb'],
      securityGroupIds: ['sg-0a9e17'],
    });
    const credentials = {
      CUBICLE_DEPLOYMENT: 'acme',
      EVENTS_TABLE: 'acme-Events',
      CUBICLE_CHAIN_KEY_ARN: GOOD.CUBICLE_CHAIN_KEY_ARN,
    };
    expect(parseEnv(CREDENTIALS_ENV, credentials)).toEqual(credentials);
  });

  it('names every missing or malformed variable, never its value', () => {
    const { INBOX_TABLE: _omit, ...missing } = GOOD;
    const bad = { ...missing, SUBNET_IDS: 'subnet-0aaa,not-a-subnet', IDLE_TIMEOUT_MS: '-5', CLUSTER_ARN: 'hunter2' };
    expect(() => parseEnv(API_ENV, bad)).toThrow(/INBOX_TABLE is not set/);
    expect(() => parseEnv(LAUNCHER_ENV, bad)).toThrow(/SUBNET_IDS must be comma-separated subnet ids/);
    const message = (() => {
      try {
        parseEnv(API_ENV, { ...bad, LAUNCHER_FUNCTION: 'not a name!' });
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toMatch(/LAUNCHER_FUNCTION must be a Lambda function name/);
    expect(message).toMatch(/IDLE_TIMEOUT_MS must be positive/);
    expect(message).toMatch(/CLUSTER_ARN must be an ECS cluster ARN/);
    expect(message).not.toContain('hunter2');
  });
});
