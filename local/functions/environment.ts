/**
 * Each local function's process environment, built from scratch (nothing of the user's shell, no AWS
 * profile): what the stack sets on the function (its schemas' variables, local/functions/registry.ts),
 * what Lambda provides (region, the role's credentials), and the stand-ins' endpoints.
 */
import type { CubicleConfig } from '../../lib/config/schema';
import { TOKEN_ENV } from '../../runtime/control-plane/auth';
import { ENV } from '../../runtime/control-plane/env';
import { ORIGIN_VERIFY_SECRET_ENV } from '../../runtime/control-plane/origin-verify';
import { TABLES, type TableName } from '../../runtime/shared/tables';
import type { AccessKeys, FunctionName } from '../aws/principals';
import { functionEnvironment } from './registry';

/** Network ids of the launch settings: well-formed, never used (the local launcher has no VPC). */
export const LOCAL_NETWORK = {
  subnetIds: 'subnet-0000000000000000a',
  securityGroupIds: 'sg-0000000000000000a',
} as const;

export interface LocalEndpoints {
  readonly dynamodb: string;
  readonly ecs: string;
  /** Secrets Manager and KMS (one server). */
  readonly vault: string;
  /** Lambda's Invoke (the launcher's callers). */
  readonly lambda: string;
}

/** The launcher's physical name, as its callers' CUBICLE_LAUNCHER_FUNCTION variable carries it. */
export function localLauncherName(deployment: string): string {
  return `${deployment}-launcher`;
}

/** Where the control-plane functions find the local issuer (the token verifier's settings). */
export interface VerifierSettings {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUri: string;
  /** The issuer's public keys: aws-jwt-verify fetches JWKS over HTTPS only, the local issuer is plain HTTP. */
  readonly jwks: { readonly keys: readonly unknown[] };
}

/**
 * The token verifier's settings (runtime/control-plane/auth/token-verifier.ts): the local issuer as an OIDC
 * issuer, its JWKS on loopback (the verifier fetches plain http only from loopback). Every function that
 * verifies tokens gets the same values; the others ignore them.
 */
export function verifierEnvironment(settings: VerifierSettings): Record<string, string> {
  return {
    [TOKEN_ENV.kind]: 'oidc',
    [TOKEN_ENV.issuer]: settings.issuer,
    [TOKEN_ENV.audience]: settings.audience,
    [TOKEN_ENV.jwksUri]: settings.jwksUri,
  };
}

export interface FunctionEnvironmentInput {
  readonly config: CubicleConfig;
  readonly tableNames: Readonly<Record<TableName, string>>;
  readonly clusterArn: string;
  readonly originSecretArn: string;
  readonly endpoints: LocalEndpoints;
  readonly verifier: VerifierSettings;
  readonly home: string;
  readonly keys: AccessKeys;
  readonly verbose: boolean;
  /** The audit chain key of the local vault (appenders MAC events with it). */
  readonly chainKeyArn: string;
}

export function localFunctionEnvironment(name: FunctionName, input: FunctionEnvironmentInput): Record<string, string> {
  const { config } = input;
  const values: Record<string, string> = {
    [ENV.deployment]: config.name,
    [ENV.clusterArn]: input.clusterArn,
    [ENV.subnetIds]: LOCAL_NETWORK.subnetIds,
    [ENV.securityGroupIds]: LOCAL_NETWORK.securityGroupIds,
    [ENV.maxTaskDurationMs]: String(config.runtime.maxTaskDuration * 1000),
    [ENV.idleTimeoutMs]: String(config.runtime.idleTimeout * 1000),
    [ENV.launcherFunction]: localLauncherName(config.name),
    ...verifierEnvironment(input.verifier),
    [ORIGIN_VERIFY_SECRET_ENV]: input.originSecretArn,
    [ENV.chainKey]: input.chainKeyArn,
  };
  for (const [table, spec] of Object.entries(TABLES)) values[spec.envVar] = input.tableNames[table as TableName];
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: input.home,
    LANG: 'C.UTF-8',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_REGION: config.region,
    AWS_DEFAULT_REGION: config.region,
    AWS_ACCESS_KEY_ID: input.keys.accessKeyId,
    AWS_SECRET_ACCESS_KEY: input.keys.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: input.endpoints.dynamodb,
    AWS_ENDPOINT_URL_ECS: input.endpoints.ecs,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: input.endpoints.vault,
    AWS_ENDPOINT_URL_KMS: input.endpoints.vault,
    AWS_ENDPOINT_URL_LAMBDA: input.endpoints.lambda,
    // As the stack sets them (lib/constructs/cubicle-function.ts); no X-Ray daemon runs locally.
    POWERTOOLS_SERVICE_NAME: `cubicle-${name}`,
    POWERTOOLS_LOG_LEVEL: input.verbose ? 'DEBUG' : 'INFO',
    POWERTOOLS_TRACE_ENABLED: 'false',
    ...functionEnvironment(name, values),
  };
}
