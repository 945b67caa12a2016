/**
 * Who calls the local stand-ins. In AWS every caller has an IAM identity (a function's role, a task's
 * role); locally each process gets its own access key pair for its principal, the stand-ins verify the
 * request's SigV4 signature with it (local/aws/sigv4.ts), and local/aws/policy.ts decides what the
 * principal may do. A task's keys are revoked when the task stops, like its role session.
 */
import { randomBytes } from 'node:crypto';

/** The control-plane functions, as the stack names their handlers (runtime/control-plane/handlers/<name>.ts). */
export const FUNCTION_NAMES = ['api', 'credentials', 'task-events', 'reaper', 'launcher'] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

/** The relay's functions, which local mode runs in its own process (local/relay/), each with its own keys. */
export const RELAY_FUNCTION_NAMES = ['relay-runtime', 'relay-device', 'relay-fanout'] as const;
export type RelayFunctionName = (typeof RELAY_FUNCTION_NAMES)[number];

export type Principal =
  | { readonly kind: 'function'; readonly name: FunctionName }
  | { readonly kind: 'relay'; readonly name: RelayFunctionName }
  | { readonly kind: 'agent'; readonly userId: string; readonly agentId: string; readonly taskArn: string }
  /** A session of the model invoker role, assumed by a Bedrock agent's task for its CLI (local/sts): may do nothing here. */
  | { readonly kind: 'model'; readonly userId: string; readonly agentId: string; readonly taskArn: string };

export interface AccessKeys {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export function describePrincipal(principal: Principal): string {
  if (principal.kind === 'agent') return `agent ${principal.userId}/${principal.agentId}`;
  if (principal.kind === 'model') return `model session of ${principal.userId}/${principal.agentId}`;
  return `function ${principal.name}`;
}

const KEY_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** `ASIA` + 16 characters: the shape of temporary AWS keys, which the agents' redactor already masks. */
function newAccessKeyId(): string {
  return `ASIA${[...randomBytes(16)].map((b) => KEY_ID_ALPHABET[b % 32]).join('')}`;
}

/** Access keys of the running processes, in memory only (a restart issues new ones). */
export class CredentialStore {
  private readonly byKeyId = new Map<string, { principal: Principal; secretAccessKey: string }>();

  issue(principal: Principal): AccessKeys {
    const keys = { accessKeyId: newAccessKeyId(), secretAccessKey: randomBytes(30).toString('base64') };
    this.byKeyId.set(keys.accessKeyId, { principal, secretAccessKey: keys.secretAccessKey });
    return keys;
  }

  revoke(accessKeyId: string): void {
    this.byKeyId.delete(accessKeyId);
  }

  /** Revokes every key of a task, its model sessions included (they end with the task here). */
  revokeTask(taskArn: string): void {
    for (const [keyId, { principal }] of this.byKeyId) {
      if ((principal.kind === 'agent' || principal.kind === 'model') && principal.taskArn === taskArn)
        this.byKeyId.delete(keyId);
    }
  }

  lookup(accessKeyId: string): { principal: Principal; secretAccessKey: string } | undefined {
    return this.byKeyId.get(accessKeyId);
  }
}
