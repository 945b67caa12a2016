/**
 * A middleware for the test DynamoDB client that holds every write the handler tests make to the IAM
 * allow-list of the function making it (runtime/shared/table-writes.ts): for each PutItem, UpdateItem,
 * TransactWriteItems and BatchWriteItem it computes the top-level attributes the request names (item or
 * key, UpdateExpression, ConditionExpression, through ExpressionAttributeNames) and
 * - evaluates the function's SYNTHESIZED role policy (the example app the global setup synthesized) with
 *   `dynamodb:Attributes` and `dynamodb:ReturnValues` as request context, with the project's IAM simulator;
 * - checks the names against the function's own entry in TABLE_WRITES (the IAM list is wider where the
 *   write asks for the whole row back, see allowedAttributes).
 * Anything but Allowed fails the write, and so the test, with a message naming the function, table and
 * attributes.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE_WRITES, keyAttributes, type WriterFunction } from '../../runtime/shared/table-writes';
import type { TableName } from '../../runtime/shared/tables';
import { topLevelNames } from './expression-names';
import { IamSimulator, type SimulatedPrincipal } from './iam-simulator';

/** One table write as IAM sees it. */
export interface WriteRequest {
  readonly action:
    | 'dynamodb:PutItem'
    | 'dynamodb:UpdateItem'
    | 'dynamodb:DeleteItem'
    | 'dynamodb:ConditionCheckItem'
    | 'dynamodb:BatchWriteItem';
  readonly tableName: string;
  readonly attributes: string[];
  readonly returnValues?: string;
}

interface Expressions {
  readonly ConditionExpression?: string;
  readonly UpdateExpression?: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
}

function named(input: Expressions, own: Record<string, unknown> | undefined): string[] {
  const names = input.ExpressionAttributeNames ?? {};
  return [
    ...new Set([
      ...Object.keys(own ?? {}),
      ...topLevelNames(input.UpdateExpression, names),
      ...topLevelNames(input.ConditionExpression, names),
    ]),
  ].sort();
}

/** The writes a command makes, or [] for a read. */
export function writesOf(commandName: string, input: any): WriteRequest[] {
  switch (commandName.replace(/^(Put|Update|TransactWrite|BatchWrite)(Item|Items)?Command$/, '$1')) {
    case 'Put':
      return [
        {
          action: 'dynamodb:PutItem',
          tableName: input.TableName,
          attributes: named(input, input.Item),
          returnValues: input.ReturnValues,
        },
      ];
    case 'Update':
      return [
        {
          action: 'dynamodb:UpdateItem',
          tableName: input.TableName,
          attributes: named(input, input.Key),
          returnValues: input.ReturnValues,
        },
      ];
    case 'TransactWrite':
      return (input.TransactItems ?? []).map((item: any): WriteRequest => {
        if (item.Put)
          return {
            action: 'dynamodb:PutItem',
            tableName: item.Put.TableName,
            attributes: named(item.Put, item.Put.Item),
          };
        if (item.Update)
          return {
            action: 'dynamodb:UpdateItem',
            tableName: item.Update.TableName,
            attributes: named(item.Update, item.Update.Key),
          };
        if (item.Delete)
          return {
            action: 'dynamodb:DeleteItem',
            tableName: item.Delete.TableName,
            attributes: named(item.Delete, item.Delete.Key),
          };
        return {
          action: 'dynamodb:ConditionCheckItem',
          tableName: item.ConditionCheck.TableName,
          attributes: named(item.ConditionCheck, item.ConditionCheck.Key),
        };
      });
    case 'BatchWrite':
      return Object.entries(input.RequestItems ?? {}).flatMap(([tableName, requests]) =>
        (requests as any[]).map((r) => ({
          action: 'dynamodb:BatchWriteItem' as const,
          tableName,
          attributes: Object.keys(r.PutRequest?.Item ?? r.DeleteRequest?.Key ?? {}).sort(),
        })),
      );
    default:
      return [];
  }
}

/** What the guard needs of the synthesized app: each writer's role and each table's ARN. */
export interface WritePolicies {
  principal(fn: WriterFunction): SimulatedPrincipal | undefined;
  tableArn(table: TableName): string;
  readonly accountId: string;
}

export class WriteRefused extends Error {
  override name = 'WriteRefused';
}

const simulator = new IamSimulator();

/** Allowed, or why not: the synthesized policy's decision and the registry's list. */
export async function checkWrite(
  policies: WritePolicies,
  fn: WriterFunction,
  table: TableName,
  write: WriteRequest,
): Promise<string | undefined> {
  const principal = policies.principal(fn);
  // The example app has no notifier (no e-mail notifications): its writes are held to the registry alone.
  if (principal) {
    const why = await checkPolicy(policies, principal, fn, table, write);
    if (why) return why;
  }
  const listed = new Set([...keyAttributes(table), ...(TABLE_WRITES[fn][table]?.attributes ?? [])]);
  const extra = write.attributes.filter((a) => !listed.has(a));
  if (extra.length > 0)
    return `${fn} writes [${extra.join(', ')}] on ${table}, not in its TABLE_WRITES entry (runtime/shared/table-writes.ts)`;
  return undefined;
}

async function checkPolicy(
  policies: WritePolicies,
  principal: SimulatedPrincipal,
  fn: WriterFunction,
  table: TableName,
  write: WriteRequest,
): Promise<string | undefined> {
  const context: Record<string, string | string[]> = { 'dynamodb:Attributes': write.attributes };
  if (write.returnValues) context['dynamodb:ReturnValues'] = write.returnValues;
  const decision = await simulator.evaluate({
    principal,
    action: write.action,
    resource: policies.tableArn(table),
    resourceAccount: policies.accountId,
    context,
  });
  if (decision !== 'Allowed') {
    return `the synthesized policy of ${fn}: ${decision} for ${write.action} on ${table} naming [${write.attributes.join(', ')}]${write.returnValues ? ` ReturnValues ${write.returnValues}` : ''}`;
  }
  const listed = new Set([...keyAttributes(table), ...(TABLE_WRITES[fn][table]?.attributes ?? [])]);
  const extra = write.attributes.filter((a) => !listed.has(a));
  if (extra.length > 0)
    return `${fn} writes [${extra.join(', ')}] on ${table}, not in its TABLE_WRITES entry (runtime/shared/table-writes.ts)`;
  return undefined;
}

/** The writer a command was sent as (`writingAs`), read by the guard from the handler context. */
const WRITER = Symbol('cubicle writer');
/** Fixtures a test puts in place: not a function's write. */
export const UNCHECKED = 'unchecked';

/** `doc` sending every command as `fn` (same client, same middleware): the guard checks `fn`'s policy. */
export function writingAs(doc: DynamoDBDocumentClient, fn: WriterFunction | typeof UNCHECKED): DynamoDBDocumentClient {
  return new Proxy(doc, {
    get(target, key, receiver) {
      if (key !== 'send') return Reflect.get(target, key, receiver);
      return (command: { middlewareStack: DynamoDBClient['middlewareStack'] }, ...rest: unknown[]) => {
        command.middlewareStack.add(
          (next, context) => (args) => {
            (context as Record<symbol, unknown>)[WRITER] = fn;
            return next(args);
          },
          { step: 'initialize', priority: 'high', name: 'cubicleWriter', override: true },
        );
        return (target.send as (...a: unknown[]) => unknown)(command, ...rest);
      };
    },
  });
}

export interface GuardOptions {
  readonly policies: () => WritePolicies | Promise<WritePolicies>;
  /** Physical table name → table. */
  readonly tableOf: (tableName: string) => TableName | undefined;
  /** The function whose writes these are; undefined: any writer of the table (the write must pass one of them). */
  readonly writer: () => WriterFunction | undefined;
}

/** Adds the guard to a client (before serialization, where the input is the marshalled request). */
export function guardWrites(client: DynamoDBClient, options: GuardOptions): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const tagged = (context as Record<symbol, unknown>)[WRITER] as WriterFunction | typeof UNCHECKED | undefined;
      const writes = tagged === UNCHECKED ? [] : writesOf(context.commandName as string, args.input);
      for (const write of writes) {
        const table = options.tableOf(write.tableName);
        if (!table) throw new WriteRefused(`write to unknown table ${write.tableName}`);
        const fn = tagged === UNCHECKED ? undefined : (tagged ?? options.writer());
        const candidates = fn
          ? [fn]
          : (Object.keys(TABLE_WRITES) as WriterFunction[]).filter((f) => TABLE_WRITES[f][table]);
        const reasons: string[] = [];
        for (const candidate of candidates) {
          const why = await checkWrite(await options.policies(), candidate, table, write);
          if (why === undefined) {
            reasons.length = 0;
            break;
          }
          reasons.push(why);
        }
        if (candidates.length === 0) reasons.push(`no function writes ${table}`);
        if (reasons.length > 0) throw new WriteRefused(`write refused: ${reasons.join('; ')}`);
      }
      return next(args);
    },
    { step: 'initialize', name: 'guardWrites', priority: 'low' },
  );
}
