/**
 * A stand-in for the DynamoDB streams the relay's fan-out reads in AWS (dynalite has none): a middleware
 * on a DynamoDB client that, after each successful PutItem on the Events or Inbox table, hands the new
 * row to the same fan-out functions the stream handler calls (runtime/relay/fanout.ts). Attach it to the
 * client every local writer of those tables uses.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
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

export function attachStreamStandIn(client: DynamoDBClient, targets: StreamTargets): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === 'PutItemCommand') {
        const input = args.input as { TableName?: string; Item?: Record<string, unknown> };
        const item = input.Item && isMarshalled(input.Item) ? unmarshall(input.Item as never) : input.Item;
        if (item && input.TableName === targets.eventsTable) {
          void targets.onEvents([item as EventRow]).catch((error) => targets.onError?.(error));
        } else if (item && input.TableName === targets.inboxTable) {
          void targets.onInbox([String(item.pk)]).catch((error) => targets.onError?.(error));
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
