/**
 * The wire format between the hook command (run by the CLI before each tool call) and the supervisor:
 * one JSON line each way over a unix socket in the exchange directory the supervisor shares with the
 * workbench (runtime/agent/src/workbench-protocol.ts).
 */

export const GUARD_SOCKET_ENV = 'CUBICLE_GUARD_SOCKET';
export const DEFAULT_GUARD_SOCKET = '/run/cubicle/guard.sock';

/** Which CLI is asking: decides the shape of the hook's answer. */
export type HookFormat = 'claude' | 'codex' | 'gemini';

export interface GuardRequest {
  readonly v: 1;
  readonly format: HookFormat;
  readonly tool: string;
  readonly input: unknown;
  readonly toolUseId?: string;
}

export interface GuardResponse {
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
}

/** The hook's stdout for a decision, in the shape each CLI documents. */
export function hookOutput(format: HookFormat, response: GuardResponse): string {
  if (format === 'gemini') {
    return JSON.stringify(
      response.decision === 'allow' ? { decision: 'allow' } : { decision: 'deny', reason: response.reason },
    );
  }
  // Claude Code and Codex share the PreToolUse output shape.
  return JSON.stringify({
    hookSpecificOutput: {
      hookEventName: 'PreToolUse',
      permissionDecision: response.decision,
      permissionDecisionReason: response.reason,
    },
  });
}
