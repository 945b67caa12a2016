/**
 * The write side of the synthesized example app, for the write guard (write-guard.ts): each writer
 * function's role with its resolved identity policies, and each table's ARN. Read once per test file.
 */
import type { WriterFunction } from '../../runtime/shared/table-writes';
import type { TableName } from '../../runtime/shared/tables';
import { FUNCTION_IDS, roleIdOf, type FunctionName } from '../stacks/control-plane/support/template';
import { readFleetModel } from '../fleet/fleet-model';
import { ACCOUNT } from './account';
import { exampleTemplates, resourcesOfType } from './assembly';
import { CfnResolver } from './cfn-intrinsics';
import type { PolicyJson, SimulatedPrincipal } from './iam-simulator';
import type { WritePolicies } from './write-guard';

const STACK = 'acme-ControlPlane';
const REGION = 'eu-west-1';

let loaded: WritePolicies | undefined;

export function exampleWritePolicies(): WritePolicies {
  if (loaded) return loaded;
  const templates = exampleTemplates();
  const json = templates.get(STACK)!;
  const resolver = new CfnResolver(templates, {
    account: ACCOUNT,
    regionOf: (stack) => (stack.endsWith('-Edge') ? 'us-east-1' : REGION),
  });
  const model = readFleetModel({ resolver, templates, deployment: 'acme', account: ACCOUNT });
  const principals = new Map<WriterFunction, SimulatedPrincipal | undefined>();
  const principal = (fn: WriterFunction): SimulatedPrincipal | undefined => {
    if (!principals.has(fn)) {
      // The example app has no e-mail notifications: no notifier role to evaluate.
      if (!(fn in FUNCTION_IDS)) principals.set(fn, undefined);
      else {
        const roleId = roleIdOf(json, fn as FunctionName);
        const identityPolicies = resourcesOfType(json, 'AWS::IAM::Policy')
          .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
          .map(([id, p]) => ({ name: id, policy: resolver.resolve(STACK, p.Properties.PolicyDocument) as PolicyJson }));
        principals.set(fn, { arn: resolver.getAtt(STACK, roleId, 'Arn'), accountId: ACCOUNT, identityPolicies });
      }
    }
    return principals.get(fn);
  };
  loaded = { principal, tableArn: (table: TableName) => model.tables[table].arn, accountId: ACCOUNT };
  return loaded;
}
