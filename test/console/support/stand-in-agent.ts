/**
 * Stands in for an awake agent in the console and CLI tests until local mode runs the real supervisor
 * (phase B): for each stored message it appends the events the runtime appends (message.started, reply
 * `echo: <text>`, message.done) to the pair's real hash-chained log, and for a line
 * `fetch https://<host>/<path>` it asks for approval through a real Approvals row, waits for the decision
 * the API records, and replies `fetched <host>` or `refused <host>` — the stand-in provider's contract.
 * Every append is pushed to the test relay, as the relay's fan-out would.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { eventView } from '../../../runtime/control-plane/api';
import { EventLog } from '../../../runtime/shared/event-log';
import { approvalStatus, newSortableId, type ApprovalRow, type EventRow } from '../../../runtime/shared/rows';
import { pairKey } from '../../../runtime/shared/tables';
import type { AgentEvent } from '../../../console/src/core/api';
import type { TestDynamo } from '../../control-plane/support/dynamo';
import { TEST_CHAIN } from '../../support/chain-key';
import { sealApproval } from '../../../runtime/shared/sealed-rows';
import { sharedUserKeys } from '../../control-plane/support/fixtures';

export class StandInAgent {
  private readonly logs = new Map<string, EventLog>();
  private readonly running = new Set<Promise<unknown>>();
  private stopped = false;

  constructor(
    private readonly dynamo: TestDynamo,
    private readonly publish: (user: string, agentId: string, event: AgentEvent) => void,
    private readonly approvalMs = 10 * 60_000,
  ) {}

  private log(user: string, agentId: string): EventLog {
    const pk = pairKey(user, agentId);
    let log = this.logs.get(pk);
    if (!log) this.logs.set(pk, (log = new EventLog(this.dynamo.doc, this.dynamo.tables.events, pk, TEST_CHAIN)));
    return log;
  }

  async append(user: string, agentId: string, input: { type: string; requestId: string; messageId?: string; data: Record<string, unknown> }): Promise<EventRow> {
    const row = await this.log(user, agentId).append(input);
    this.publish(user, agentId, eventView(row) as AgentEvent);
    return row;
  }

  /** Handles one message in the background; `settled()` waits for every message in flight. */
  receive(user: string, agentId: string, messageId: string, text: string, requestId: string): void {
    const run = this.handle(user, agentId, messageId, text, requestId).catch(() => undefined);
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /** Stops waiting for approvals (the test is over). */
  stop(): void {
    this.stopped = true;
  }

  async settled(): Promise<void> {
    await Promise.all([...this.running]);
  }

  private async handle(user: string, agentId: string, messageId: string, text: string, requestId: string): Promise<void> {
    const base = { requestId, messageId };
    await this.append(user, agentId, { ...base, type: 'message.started', data: { attempt: 1 } });
    const fetch = /^fetch (https:\/\/([^/\s]+)\S*)$/m.exec(text);
    if (fetch) {
      const [, url, host] = fetch;
      const createdAt = Date.now();
      const approval: ApprovalRow = {
        pk: pairKey(user, agentId),
        sk: newSortableId(createdAt),
        requestId,
        messageId,
        tool: 'WebFetch',
        summary: `GET ${url}`,
        hosts: [host],
        createdAt,
        expiresAt: createdAt + this.approvalMs,
      };
      // Stored as the relay stores it: summary and hosts sealed under the user's key (the API opens them).
      await this.dynamo.doc.send(new PutCommand({ TableName: this.dynamo.tables.approvals, Item: await sealApproval(sharedUserKeys().sealer, approval) }));
      await this.append(user, agentId, { ...base, type: 'approval.requested', data: { approvalId: approval.sk, tool: approval.tool, summary: approval.summary, hosts: approval.hosts, expiresAt: approval.expiresAt } });
      let status = 'pending';
      while (status === 'pending' && Date.now() < approval.expiresAt && !this.stopped) {
        await new Promise((r) => setTimeout(r, 100));
        const out = await this.dynamo.doc.send(new GetCommand({ TableName: this.dynamo.tables.approvals, Key: { pk: approval.pk, sk: approval.sk }, ConsistentRead: true }));
        status = approvalStatus(out.Item as ApprovalRow);
      }
      await this.append(user, agentId, { ...base, type: 'approval.resolved', data: { approvalId: approval.sk, status } });
      if (status === 'approved') await this.append(user, agentId, { ...base, type: 'tool.call', data: { tool: 'WebFetch', summary: approval.summary } });
      await this.append(user, agentId, { ...base, type: 'reply', data: { text: `${status === 'approved' ? 'fetched' : 'refused'} ${host}` } });
    } else {
      await this.append(user, agentId, { ...base, type: 'reply', data: { text: `echo: ${text}` } });
    }
    await this.append(user, agentId, { ...base, type: 'message.done', data: {} });
  }
}
