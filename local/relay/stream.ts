/**
 * A stand-in for the DynamoDB streams the relay's fan-out reads in AWS (dynalite has none): a middleware
 * on a DynamoDB client that, after each successful PutItem on the Events or Inbox table, hands the new
 * row to the same fan-out functions the stream handler calls (runtime/relay/fanout.ts). Like a stream,
 * rows that arrive while a fan-out runs are handed over together, in order, as the next batch. Attach it
 * to the client every local writer of those tables uses.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { EventRow } from '../../runtime/shared/rows';

export interface StreamTargets {
  readonly eventsTable: string;
  readonly inboxTable: string;
  readonly onEvents: (rows: EventRow[]) => Promise<void>;
  readonly onInbox: (pairs: string[]) => Promise<void>;
  /** Fan-out failures (the stream in AWS would retry; locally they are reported here). */
  readonly onError?: (error: unknown) => void;
}

/** `client`: the DynamoDB client (or a document client over it: they share one middleware stack). */
export function attachStreamStandIn(
  client: Pick<DynamoDBClient | DynamoDBDocumentClient, 'middlewareStack'>,
  targets: StreamTargets,
): void {
  const events = batcher<EventRow>((rows) => targets.onEvents(rows), targets.onError);
  const inbox = batcher<string>((pairs) => targets.onInbox(pairs), targets.onError);
  (client.middlewareStack as DynamoDBClient['middlewareStack']).add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === 'PutItemCommand') {
        const input = args.input as { TableName?: string; Item?: Record<string, unknown> };
        const item = input.Item && isMarshalled(input.Item) ? unmarshall(input.Item as never) : input.Item;
        if (item && input.TableName === targets.eventsTable) {
          events(item as EventRow);
        } else if (item && input.TableName === targets.inboxTable) {
          inbox(String(item.pk));
        }
      }
      return result;
    },
    { step: 'initialize', name: 'cubicleStreamStandIn', override: true },
  );
}

function isMarshalled(item: Record<string, unknown>): boolean {
  const pk = item.pk as Record<string, unknown> | undefined;
  return typeof pk === 'object' && pk !== null && 'S' in pk;
}

/** Queues items and hands them to `run` in order, one batch at a time. */
export function batcher<T>(
  run: (batch: T[]) => Promise<void>,
  onError: ((error: unknown) => void) | undefined,
): (item: T) => void {
  let pending: T[] = [];
  let draining = false;
  const drain = async () => {
    draining = true;
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      // Like a stream, a failed batch is retried (deliveries are idempotent per cursor) before it is reported.
      for (let attempt = 1; ; attempt += 1) {
        try {
          await run(batch);
          break;
        } catch (error) {
          if (attempt >= 3) {
            onError?.(error);
            break;
          }
          await new Promise((r) => setTimeout(r, 100 * attempt));
        }
      }
    }
    draining = false;
  };
  return (item) => {
    pending.push(item);
    if (!draining) void drain();
  };
}
