/**
 * The employee's words in Events and Approvals rows, sealed under the user's key
 * (docs/isolation-claims.md claim 5; runtime/shared/envelope.ts): a runtime event's `data` becomes `{ sealed }` (record 'event.data'),
 * an approval's `summary` and `hosts` become one `sealed` value (record 'approval.summary'). The runtime
 * relay seals as it writes for a runtime; the API and the relay's device side open as they hand rows to the
 * employee. Lifecycle events (wake, stop, decisions) carry no employee words and stay open.
 *
 * The chain (event-chain.ts) hashes the sealed form, so it is verified without opening anything.
 */
import type { RecordSealer } from './envelope';
import type { ApprovalRow, EventRow, InboxRow } from './rows';
import type { ScheduledMessagePolicy } from './schedules';
import { isSealed, SealError } from './sealed';
import { parsePairKey } from './tables';

export type DataSealer = Pick<RecordSealer, 'sealData'>;
export type DataOpener = Pick<RecordSealer, 'openData'>;

/** What an opened row carries instead of its data when the sealed value cannot be opened (forged, or another pair's). */
export interface Unreadable {
  readonly unreadable: string;
}

/** An approval as stored: everything but the summary and hosts, which travel sealed together. */
export type StoredApprovalRow = Omit<ApprovalRow, 'summary' | 'hosts'> & { readonly sealed: string };

export async function sealEventData(
  sealer: DataSealer,
  pk: string,
  data: Record<string, unknown>,
): Promise<{ sealed: string }> {
  const { userId, agentId } = parsePairKey(pk);
  return { sealed: await sealer.sealData({ userId, agentId, record: 'event.data' }, data) };
}

/** True when the row's data is the sealed form (a runtime event), not a lifecycle event's open data. */
export function hasSealedData(row: Pick<EventRow, 'data'>): boolean {
  const keys = Object.keys(row.data ?? {});
  return keys.length === 1 && keys[0] === 'sealed';
}

/**
 * The row with its data opened for its own pair. A value that is not sealed, or not openable as this
 * pair's event data, is replaced by `{ unreadable }`: never shown as if the agent had said it. Transient
 * KMS failures throw (the caller retries).
 */
export async function openEvent(opener: DataOpener, row: EventRow): Promise<EventRow> {
  if (!hasSealedData(row)) return row;
  const { userId, agentId } = parsePairKey(row.pk);
  try {
    return { ...row, data: await opener.openData({ userId, agentId, record: 'event.data' }, row.data.sealed) };
  } catch (error) {
    if ((error as Error).name !== 'SealError') throw error;
    return { ...row, data: { unreadable: (error as Error).message } satisfies Unreadable };
  }
}

export async function sealApproval(sealer: DataSealer, row: ApprovalRow): Promise<StoredApprovalRow> {
  const { summary, hosts, ...open } = row;
  const { userId, agentId } = parsePairKey(row.pk);
  return {
    ...open,
    sealed: await sealer.sealData({ userId, agentId, record: 'approval.summary' }, { summary, hosts }),
  };
}

/** The approval with its summary and hosts opened; an unopenable one reads as empty plus `unreadable`. */
export async function openApproval(
  opener: DataOpener,
  row: StoredApprovalRow,
): Promise<ApprovalRow & Partial<Unreadable>> {
  const { sealed, ...open } = row;
  const { userId, agentId } = parsePairKey(row.pk);
  try {
    if (!isSealed(sealed))
      throw Object.assign(new Error(`approval.summary of ${userId}/${agentId} is not sealed`), { name: 'SealError' });
    const data = await opener.openData({ userId, agentId, record: 'approval.summary' }, sealed);
    return {
      ...open,
      summary: String(data.summary ?? ''),
      hosts: Array.isArray(data.hosts) ? data.hosts.map(String) : [],
    };
  } catch (error) {
    if ((error as Error).name !== 'SealError') throw error;
    return { ...open, summary: '', hosts: [], unreadable: (error as Error).message };
  }
}

/** An employee's decision as the API seals it beside the row's `decision` (ApprovalRow.decisionSeal). */
export interface SealedDecision {
  readonly approvalId: string;
  readonly decision: 'approved' | 'denied';
  readonly decidedBy: string;
}

export async function sealDecision(sealer: DataSealer, pk: string, decision: SealedDecision): Promise<string> {
  const { userId, agentId } = parsePairKey(pk);
  return sealer.sealData({ userId, agentId, record: 'approval.decision' }, { ...decision });
}

/**
 * The decision a row really carries: its sealed decision, if that opens as this pair's and names this
 * approval and the row's decision. Undefined for a decision written without one (someone with write access
 * to the table, not the API acting for the employee) or copied from another approval. Transient KMS
 * failures throw (the caller retries).
 */
export async function verifiedDecision(
  opener: DataOpener,
  row: Pick<ApprovalRow, 'pk' | 'sk' | 'decision' | 'decisionSeal'>,
): Promise<SealedDecision | undefined> {
  if (!row.decision || !isSealed(row.decisionSeal)) return undefined;
  const { userId, agentId } = parsePairKey(row.pk);
  try {
    const data = await opener.openData({ userId, agentId, record: 'approval.decision' }, row.decisionSeal);
    if (data.approvalId !== row.sk || data.decision !== row.decision || typeof data.decidedBy !== 'string')
      return undefined;
    return { approvalId: row.sk, decision: row.decision, decidedBy: data.decidedBy };
  } catch (error) {
    if ((error as Error).name !== 'SealError') throw error;
    return undefined;
  }
}

/**
 * What an inbox row's `body` seals (record 'inbox.body'): the text with the message's own id and, for a
 * scheduled message, its unattended-run policy. Bound to the id, a sealed body copied into another row
 * (replaying an employee's old instruction) opens as unreadable; bound together, the policy cannot be
 * loosened beside the text. The row's plaintext `schedule` is for operators to read; the runtime uses this.
 */
export interface InboxContent {
  readonly messageId: string;
  readonly text: string;
  readonly schedule?: ScheduledMessagePolicy;
}

export async function sealInboxBody(sealer: DataSealer, pk: string, content: InboxContent): Promise<string> {
  const { userId, agentId } = parsePairKey(pk);
  return sealer.sealData({ userId, agentId, record: 'inbox.body' }, { ...content });
}

/**
 * Opens a row's body as this pair's (the runtime names its own user and agent, never the row's). Throws
 * SealError when it does not open, or names another message; transient KMS failures throw as they are.
 */
export async function openInboxBody(
  opener: DataOpener,
  pair: { readonly userId: string; readonly agentId: string },
  row: Pick<InboxRow, 'sk' | 'body'>,
): Promise<Omit<InboxContent, 'messageId'>> {
  const data = await opener.openData({ ...pair, record: 'inbox.body' }, row.body);
  if (data.messageId !== row.sk || typeof data.text !== 'string')
    throw new SealError(`inbox.body of ${pair.userId}/${pair.agentId} was sealed for another message`);
  const schedule =
    data.schedule && typeof data.schedule === 'object' ? (data.schedule as ScheduledMessagePolicy) : undefined;
  return { text: data.text, ...(schedule ? { schedule } : {}) };
}
