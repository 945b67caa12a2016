import type { EventRow } from '../shared/rows';

/** One event as employees see it, in GET /events pages and in the relay's `event` frames alike. */
export function eventView(row: EventRow) {
  return {
    seq: row.sk,
    type: row.type,
    at: new Date(row.at).toISOString(),
    requestId: row.requestId,
    messageId: row.messageId,
    data: row.data,
    prevHash: row.prevHash,
    hash: row.hash,
  };
}
