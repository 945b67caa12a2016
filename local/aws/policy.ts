/**
 * What each local principal may do: the local form of the IAM grants and resource policies the stacks
 * write. test/local/matches-stacks.test.ts checks these lists against the synthesized ControlPlane template, so a
 * grant added to a function's role without adding it here (or the reverse) fails the suite.
 *
 * - The control-plane functions get what their roles get (lib/constructs/cubicle-function.ts bind* helpers,
 *   employee-api.ts, lifecycle-functions.ts, edge-origin-secret.ts).
 * - An agent may read only the vault secrets its own agent uses (the secret resource policies of
 *   lib/constructs/user-vault.ts), and open only its own pair's sealed records under its user's key (the
 *   key policy's `AgentOpensOwnRecords`); no ECS.
 * - Secrets' key use goes through Secrets Manager (`kms:ViaService`), which the local vault does inside
 *   itself. Sealed records (runtime/shared/envelope.ts) use the user keys directly: the API function
 *   and the runtime relay (record sealers, bindRecordSealer) seal and open any of a user's records, with the
 *   records' context; the relay's device side and fan-out (record openers, bindRecordOpener) only open them.
 *   The relay's functions touch no ECS, secret or function.
 * - Only the launcher runs tasks; the API, task-events and reaper functions invoke it (bindLaunchInvoker).
 */
import { CONTEXT_KEYS } from '../../runtime/shared/sealed';
import { chainKeyAlias, secretNamePrefix, userKeyAlias } from '../../runtime/shared/names';
import type { FunctionName, Principal, RelayFunctionName } from './principals';

export type EcsAction = 'ecs:RunTask' | 'ecs:StopTask' | 'ecs:ListTasks' | 'ecs:DescribeTasks';
export type SecretsAction = 'secretsmanager:GetSecretValue' | 'secretsmanager:PutSecretValue';
export type KmsAction =
  'kms:Encrypt' | 'kms:Decrypt' | 'kms:GenerateDataKey' | 'kms:DescribeKey' | 'kms:GenerateMac' | 'kms:VerifyMac';
export type LambdaAction = 'lambda:InvokeFunction';
export type Action = EcsAction | SecretsAction | KmsAction | LambdaAction;

/** Actions on ECS and Secrets Manager each function's role allows (resources: see mayUseSecret). */
export const FUNCTION_GRANTS: Readonly<Record<FunctionName, readonly (EcsAction | SecretsAction)[]>> = {
  api: ['ecs:StopTask', 'secretsmanager:GetSecretValue'],
  credentials: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
  'task-events': ['ecs:StopTask'],
  reaper: ['ecs:DescribeTasks', 'ecs:ListTasks', 'ecs:StopTask'],
  launcher: ['ecs:RunTask', 'ecs:StopTask'],
};

/** Direct KMS use per function (records sealed under the user keys); secrets' key use is through Secrets Manager. */
export const FUNCTION_KMS_GRANTS: Readonly<Record<FunctionName, readonly KmsAction[]>> = {
  api: ['kms:DescribeKey', 'kms:Decrypt', 'kms:GenerateDataKey'],
  credentials: [],
  'task-events': [],
  reaper: [],
  launcher: [],
};

/** Direct KMS use of the relay's functions (they run in local mode's own process, each with its own keys). */
export const RELAY_KMS_GRANTS: Readonly<Record<RelayFunctionName, readonly KmsAction[]>> = {
  'relay-runtime': ['kms:DescribeKey', 'kms:Decrypt', 'kms:GenerateDataKey'],
  'relay-device': ['kms:DescribeKey', 'kms:Decrypt'],
  'relay-fanout': ['kms:DescribeKey', 'kms:Decrypt'],
};

/**
 * Who may MAC appended events under the audit chain key (lib/constructs/audit-archive.ts: the key policy
 * names exactly the roles of the functions that append events). No one else may use it locally: VerifyMac is
 * for auditors, who in AWS get it through IAM.
 */
export const CHAIN_APPENDERS: readonly (FunctionName | RelayFunctionName)[] = [
  'api',
  'credentials',
  'task-events',
  'reaper',
  'launcher',
  'relay-runtime',
];

/** Which functions may invoke which (the launcher's callers). */
export const FUNCTION_INVOKE_GRANTS: Readonly<Record<FunctionName, readonly FunctionName[]>> = {
  api: ['launcher'],
  credentials: [],
  'task-events': ['launcher'],
  reaper: ['launcher'],
  launcher: [],
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
  key(
    principal: Principal,
    action: KmsAction,
    key: { readonly keyId: string; readonly alias?: string },
    context?: Readonly<Record<string, string>>,
  ): boolean;
  invoke(principal: Principal, target: string): boolean;
}

export function localAuthorizer(deployment: string): Authorizer {
  return {
    ecs: (principal, action) => principal.kind === 'function' && FUNCTION_GRANTS[principal.name].includes(action),
    secret(principal, action, secret) {
      if (principal.kind === 'relay' || principal.kind === 'model') return false;
      if (principal.kind === 'agent') {
        // user-vault.ts: GetSecretValue is denied to every principal but the agent roles that read the secret.
        return (
          action === 'secretsmanager:GetSecretValue' &&
          secret.userId === principal.userId &&
          secret.readerAgentIds.includes(principal.agentId)
        );
      }
      if (!FUNCTION_GRANTS[principal.name].includes(action)) return false;
      // edge-origin-secret.ts bindReader: the API functions read the origin-verify secret only.
      if (action === 'secretsmanager:GetSecretValue') return secret.originVerify;
      // bindSecretWriter: PutSecretValue on this deployment's secret-name prefix (and each vault secret's
      // policy admits only the credential writer).
      return !secret.originVerify && secret.name.startsWith(secretNamePrefix(deployment));
    },
    key(principal, action, key, context = {}) {
      // The model invoker role allows bedrock:InvokeModel* only (lib/constructs/bedrock-invoker.ts).
      if (principal.kind === 'model') return false;
      if (key.alias === chainKeyAlias(deployment) || action === 'kms:GenerateMac' || action === 'kms:VerifyMac') {
        return (
          key.alias === chainKeyAlias(deployment) &&
          action === 'kms:GenerateMac' &&
          principal.kind !== 'agent' &&
          CHAIN_APPENDERS.includes(principal.name)
        );
      }
      const owner = userOfKey(deployment, key.alias);
      // The records' encryption context, exactly (user-vault.ts: kms:EncryptionContextKeys), for the key's own user.
      const keys = Object.keys(context).sort();
      const isRecord =
        owner !== undefined &&
        keys.join(',') === Object.values(CONTEXT_KEYS).sort().join(',') &&
        context[CONTEXT_KEYS.user] === owner;
      if (principal.kind === 'agent') {
        return (
          action === 'kms:Decrypt' &&
          isRecord &&
          owner === principal.userId &&
          context[CONTEXT_KEYS.agent] === principal.agentId
        );
      }
      const grants =
        principal.kind === 'relay' ? RELAY_KMS_GRANTS[principal.name] : FUNCTION_KMS_GRANTS[principal.name];
      if (!grants.includes(action)) return false;
      if (action === 'kms:DescribeKey') return owner !== undefined;
      return isRecord;
    },
    invoke: (principal, target) =>
      principal.kind === 'function' && (FUNCTION_INVOKE_GRANTS[principal.name] as readonly string[]).includes(target),
  };
}

/** The roster user whose key carries this alias (`alias/cubicle/<name>/<user>`), if it is a user key. */
function userOfKey(deployment: string, alias: string | undefined): string | undefined {
  const prefix = userKeyAlias(deployment, '');
  return alias?.startsWith(prefix) ? alias.slice(prefix.length) : undefined;
}
