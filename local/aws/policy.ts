/**
 * What each local principal may do: the local form of the IAM grants and resource policies the stacks
 * write. test/local/matches-stacks.test.ts checks these lists against the synthesized ControlPlane template, so a
 * grant added to a function's role without adding it here (or the reverse) fails the suite.
 *
 * - The control-plane functions get what their roles get (lib/constructs/cubicle-function.ts bind* helpers,
 *   employee-api.ts, lifecycle-functions.ts, edge-origin-secret.ts).
 * - An agent may read only the vault secrets its own agent uses (the secret resource policies of
 *   lib/constructs/user-vault.ts) and nothing else: no ECS, no direct KMS.
 * - No principal uses a KMS key directly today: every key use goes through Secrets Manager
 *   (`kms:ViaService`), which the local vault does inside itself.
 */
import { secretNamePrefix } from '../../runtime/shared/names';
import type { FunctionName, Principal } from './principals';

export type EcsAction = 'ecs:RunTask' | 'ecs:StopTask' | 'ecs:ListTasks' | 'ecs:DescribeTasks';
export type SecretsAction = 'secretsmanager:GetSecretValue' | 'secretsmanager:PutSecretValue';
export type KmsAction = 'kms:Encrypt' | 'kms:Decrypt' | 'kms:GenerateDataKey' | 'kms:DescribeKey';
export type Action = EcsAction | SecretsAction | KmsAction;

/** Actions on ECS and Secrets Manager each function's role allows (resources: see mayUseSecret). */
export const FUNCTION_GRANTS: Readonly<Record<FunctionName, readonly (EcsAction | SecretsAction)[]>> = {
  api: ['ecs:RunTask', 'ecs:StopTask', 'secretsmanager:GetSecretValue'],
  credentials: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
  'task-events': ['ecs:RunTask', 'ecs:StopTask'],
  reaper: ['ecs:DescribeTasks', 'ecs:ListTasks', 'ecs:RunTask', 'ecs:StopTask'],
};

/** Direct KMS use per function; empty while all key use is through Secrets Manager. */
export const FUNCTION_KMS_GRANTS: Readonly<Record<FunctionName, readonly KmsAction[]>> = {
  api: [],
  credentials: [],
  'task-events': [],
  reaper: [],
};

/** A secret as the policy sees it. */
export interface SecretAccess {
  readonly name: string;
  /** Vault secrets: the owner and the agents of that owner that read it. */
  readonly userId?: string;
  readonly readerAgentIds: readonly string[];
  /** The origin-verify secret (read by the API functions, written by nobody at run time). */
  readonly originVerify: boolean;
}

export interface Authorizer {
  ecs(principal: Principal, action: EcsAction): boolean;
  secret(principal: Principal, action: SecretsAction, secret: SecretAccess): boolean;
  key(principal: Principal, action: KmsAction, key: { readonly keyId: string; readonly alias?: string }): boolean;
}

export function localAuthorizer(deployment: string): Authorizer {
  return {
    ecs: (principal, action) => principal.kind === 'function' && FUNCTION_GRANTS[principal.name].includes(action),
    secret(principal, action, secret) {
      if (principal.kind === 'agent') {
        // user-vault.ts: GetSecretValue is denied to every principal but the agent roles that read the secret.
        return action === 'secretsmanager:GetSecretValue' && secret.userId === principal.userId && secret.readerAgentIds.includes(principal.agentId);
      }
      if (!FUNCTION_GRANTS[principal.name].includes(action)) return false;
      // edge-origin-secret.ts bindReader: the API functions read the origin-verify secret only.
      if (action === 'secretsmanager:GetSecretValue') return secret.originVerify;
      // bindSecretWriter: PutSecretValue on this deployment's secret-name prefix (and each vault secret's
      // policy admits only the credential writer).
      return !secret.originVerify && secret.name.startsWith(secretNamePrefix(deployment));
    },
    key: (principal, action) => principal.kind === 'function' && FUNCTION_KMS_GRANTS[principal.name].includes(action),
  };
}
