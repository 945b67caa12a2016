/**
 * The write side of the synthesized example app, for the write guard (write-guard.ts): each writer
 * function's role with its resolved identity policies, and each table's ARN. Read once per test file.
 */
import type { WriterFunction } from '../../runtime/shared/table-writes';
import type { TableName } from '../../runtime/shared/tables';
import { exampleControlPlane } from '../stacks/control-plane/support/principals';
import { FUNCTION_IDS, type FunctionName } from '../stacks/control-plane/support/template';
import { ACCOUNT } from './account';
import type { SimulatedPrincipal } from './iam-simulator';
import type { WritePolicies } from './write-guard';

let loaded: WritePolicies | undefined;

export function exampleWritePolicies(): WritePolicies {
  if (loaded) return loaded;
  const { model, principalOf } = exampleControlPlane();
  const principals = new Map<WriterFunction, SimulatedPrincipal | undefined>();
  const principal = (fn: WriterFunction): SimulatedPrincipal | undefined => {
    if (!principals.has(fn))
      // The example app has no e-mail notifications: no notifier role to evaluate.
      principals.set(fn, fn in FUNCTION_IDS ? principalOf(fn as FunctionName) : undefined);
    return principals.get(fn);
  };
  loaded = { principal, tableArn: (table: TableName) => model.tables[table].arn, accountId: ACCOUNT };
  return loaded;
}
