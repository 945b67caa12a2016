import type { EventEmitter } from 'node:events';
import { newSortableId, type ApprovalStatus } from '../../shared/rows';
import type { RelayLink } from './relay-rows';

export interface ApprovalRequest {
  readonly requestId: string;
  readonly messageId: string;
  readonly tool: string;
  readonly summary: string;
  readonly hosts: string[];
}

export interface PendingApproval extends ApprovalRequest {
  /** The approval id. */
  readonly sk: string;
  readonly expiresAt: number;
}

export interface ApprovalOutcome {
  readonly approvalId: string;
  readonly status: Exclude<ApprovalStatus, 'pending'> | 'aborted';
  readonly decidedBy?: string;
}

/**
 * Approval requests through the relay: the control plane writes the pending row; the employee's decision
 * arrives as a nudge (the relay's fan-out of the `approval.decided` event), then is read with a signed
 * frame. `pollMs` is only the safety net for a lost nudge. On timeout or stop the request is closed
 * (expired) unless a decision won the race.
 */
export class ApprovalStore {
  constructor(
    private readonly relay: RelayLink & Pick<EventEmitter, 'on' | 'off'>,
    private readonly options: { timeoutMs: number; pollMs: number; now?: () => number },
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  async create(request: ApprovalRequest): Promise<PendingApproval> {
    const createdAt = this.now();
    const approvalId = newSortableId(createdAt);
    const result = await this.relay.call({
      op: 'approval.request',
      approvalId,
      ...request,
      expiresAt: createdAt + this.options.timeoutMs,
    });
    return { ...request, sk: approvalId, expiresAt: Number(result.expiresAt ?? createdAt + this.options.timeoutMs) };
  }

  /** Waits for the decision. `signal` aborts the wait (task stopping); the request is closed then. */
  async wait(row: PendingApproval, signal?: AbortSignal): Promise<ApprovalOutcome> {
    while (true) {
      if (signal?.aborted) {
        const closed = await this.expire(row).catch(() => undefined);
        return closed && closed.status !== 'expired' ? closed : { approvalId: row.sk, status: 'aborted' };
      }
      const current = await this.outcome(row.sk, 'approval.status');
      if (current.status !== 'pending') return current as ApprovalOutcome;
      if (this.now() >= row.expiresAt) return this.expire(row);
      await this.nudgeOr(Math.min(this.options.pollMs, Math.max(1, row.expiresAt - this.now())), signal);
    }
  }

  private async expire(row: PendingApproval): Promise<ApprovalOutcome> {
    const outcome = await this.outcome(row.sk, 'approval.expire');
    return { ...outcome, status: outcome.status === 'pending' ? 'expired' : outcome.status } as ApprovalOutcome;
  }

  private async outcome(
    approvalId: string,
    op: 'approval.status' | 'approval.expire',
  ): Promise<{ approvalId: string; status: ApprovalStatus; decidedBy?: string }> {
    const result = await this.relay.call({ op, approvalId });
    return {
      approvalId,
      status: result.status as ApprovalStatus,
      ...(typeof result.decidedBy === 'string' ? { decidedBy: result.decidedBy } : {}),
    };
  }

  /** Resolves on an approval nudge, after `ms`, or on abort, whichever comes first. */
  private nudgeOr(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.relay.off('nudge', onNudge);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const onNudge = (what: string) => what === 'approval' && done();
      const timer = setTimeout(done, ms);
      this.relay.on('nudge', onNudge);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
