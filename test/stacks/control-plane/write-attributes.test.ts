import { describe, expect, it } from 'vitest';
import {
  TABLE_WRITES,
  WRITER_FUNCTIONS,
  allowedAttributes,
  allowedReturnValues,
  type WriterFunction,
} from '../../../runtime/shared/table-writes';
import type { TableName } from '../../../runtime/shared/tables';
import { IamSimulator } from '../../support/iam-simulator';
import { exampleWritePolicies } from '../../support/write-policies';

/**
 * The write statements of the synthesized example app: each writer's PutItem/UpdateItem on each table is one
 * statement limited by `dynamodb:Attributes` (and ReturnValues), and the IAM evaluator allows the listed
 * attributes and denies one more, a write that names none, and a ReturnValues the function does not use.
 */

const policies = exampleWritePolicies();
const simulator = new IamSimulator();
const WRITES = ['dynamodb:PutItem', 'dynamodb:UpdateItem'];
// The example app has no e-mail notifications (no notifier role); its statement is built by the same bindTable.
const SYNTHESIZED = WRITER_FUNCTIONS.filter((fn) => fn !== 'notifier');

const pairs = SYNTHESIZED.flatMap((fn) =>
  (Object.keys(TABLE_WRITES[fn]) as TableName[]).map((table) => [fn, table] as [WriterFunction, TableName]),
);

function writeStatements(fn: WriterFunction, table: TableName) {
  return policies
    .principal(fn)!
    .identityPolicies.flatMap((p) => [p.policy.Statement].flat() as Record<string, any>[])
    .filter((s) => [s.Resource].flat().includes(policies.tableArn(table)))
    .filter((s) => [s.Action].flat().some((a: string) => WRITES.includes(a)));
}

const decide = (fn: WriterFunction, table: TableName, action: string, context: Record<string, string | string[]>) =>
  simulator.evaluate({
    principal: policies.principal(fn)!,
    action,
    resource: policies.tableArn(table),
    resourceAccount: policies.accountId,
    context,
  });

describe('write statements: dynamodb:Attributes from runtime/shared/table-writes.ts', () => {
  it('lists, written out, what the API puts in the inbox and the relay puts in approvals', () => {
    expect(allowedAttributes('api', 'inbox')).toEqual(['body', 'createdAt', 'pk', 'requestId', 'schedule', 'sk']);
    expect(allowedAttributes('relay-runtime', 'approvals')).toEqual([
      'createdAt',
      'decision',
      'expiredAt',
      'expiresAt',
      'messageId',
      'pk',
      'requestId',
      'sealed',
      'sk',
      'tool',
    ]);
    expect(allowedReturnValues('api', 'inbox')).toEqual(['NONE']);
  });

  it.each(pairs)('%s writes %s through one statement with exact conditions', (fn, table) => {
    const statements = writeStatements(fn, table);
    expect(statements).toHaveLength(1);
    expect([statements[0].Action].flat().every((a: string) => WRITES.includes(a))).toBe(true);
    expect(statements[0].Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': allowedAttributes(fn, table) },
      StringEqualsIfExists: {
        'dynamodb:ReturnValues': allowedReturnValues(fn, table),
      },
    });
  });

  it.each(pairs)(
    '%s on %s: listed attributes allowed; one more, or another ReturnValues, denied',
    async (fn, table) => {
      const listed = allowedAttributes(fn, table);
      for (const action of [statementActions(fn, table)].flat()) {
        expect(await decide(fn, table, action, { 'dynamodb:Attributes': listed })).toBe('Allowed');
        for (const rv of allowedReturnValues(fn, table))
          expect(await decide(fn, table, action, { 'dynamodb:Attributes': listed, 'dynamodb:ReturnValues': rv })).toBe(
            'Allowed',
          );
        expect(await decide(fn, table, action, { 'dynamodb:Attributes': [...listed, 'isAdmin'] })).toBe(
          'ImplicitlyDenied',
        );
        const unused = (['ALL_OLD', 'ALL_NEW', 'UPDATED_OLD'] as const).filter(
          (v) => !allowedReturnValues(fn, table).includes(v),
        );
        for (const rv of unused)
          expect(await decide(fn, table, action, { 'dynamodb:Attributes': listed, 'dynamodb:ReturnValues': rv })).toBe(
            'ImplicitlyDenied',
          );
      }
    },
  );
});

function statementActions(fn: WriterFunction, table: TableName): string[] {
  return writeStatements(fn, table).flatMap((s) => [s.Action].flat() as string[]);
}
