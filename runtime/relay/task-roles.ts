/**
 * Which pair and task a runtime connection's caller is, from its role session ARN alone (runtime/relay/runtime-auth.ts
 * says why that is enough): no table, no client, so the runtime relay refuses a caller that is no Cubicle task before
 * anything else loads (runtime/relay/handlers/runtime.ts).
 */
import type { Roster } from '../control-plane/roster';
import type { Logger } from '@aws-lambda-powertools/logger';
import { agentRoleName } from '../shared/names';
import { pairKey } from '../shared/tables';
import { refuse, type WsResult } from './ws-event';

export interface TaskIdentity {
  readonly pair: string;
  readonly userId: string;
  readonly agentId: string;
  readonly taskId: string;
}

const ASSUMED_ROLE = /^arn:aws[a-z-]*:sts::(\d{12}):assumed-role\/([\w+=,.@-]{1,64})\/([A-Za-z0-9-]{1,64})$/;

/** Maps a task role's session ARN to its pair, over the roster's pairs. */
export class RoleDirectory {
  private readonly byRole = new Map<string, { userId: string; agentId: string }>();

  constructor(
    deployment: string,
    roster: Roster,
    private readonly account: string,
  ) {
    for (const user of roster.directory.users) {
      for (const agent of user.agents)
        this.byRole.set(agentRoleName(deployment, user.id, agent.id), { userId: user.id, agentId: agent.id });
    }
  }

  identify(userArn: string | null | undefined): TaskIdentity | undefined {
    const match = userArn ? ASSUMED_ROLE.exec(userArn) : null;
    if (!match || match[1] !== this.account) return undefined;
    const pair = this.byRole.get(match[2]);
    return pair ? { ...pair, pair: pairKey(pair.userId, pair.agentId), taskId: match[3] } : undefined;
  }
}

/**
 * The refusal of a runtime connect whose caller is no running Cubicle task: a security event in the log (whether the
 * role is a pair's, whose task is not the session's, or no pair's at all) and a 403.
 */
export function refuseUnknownCaller(log: Pick<Logger, 'warn'>, requestId: string, knownRole: boolean): WsResult {
  log.warn('relay runtime connect refused', {
    request_id: requestId,
    security_event: 'relay.runtime.unknown_caller',
    known_role: knownRole,
  });
  return refuse(403, 'Not a running Cubicle task.');
}
