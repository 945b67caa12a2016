/** Reading the ControlPlane template: functions by construct path, their roles' statements. */
import type { TemplateJson } from '../../../support/assembly';

export type FunctionName =
  | 'api'
  | 'credentials'
  | 'task-events'
  | 'reaper'
  | 'directory-sync'
  | 'launcher'
  | 'scheduled-run'
  | 'relay-device'
  | 'relay-runtime'
  | 'relay-fanout'
  | 'audit-archive';

/** Logical-id prefixes, from the construct paths (EmployeeApi/ApiFunction/Function, ...). */
export const FUNCTION_IDS: Record<FunctionName, string> = {
  api: 'EmployeeApiApiFunction',
  credentials: 'EmployeeApiCredentialWriterFunction',
  'task-events': 'LifecycleTaskEventsFunction',
  reaper: 'LifecycleReaperFunction',
  'directory-sync': 'DirectorySyncFunction',
  'relay-device': 'RelayDeviceFunction',
  'relay-runtime': 'RelayRuntimeFunction',
  'relay-fanout': 'RelayFanoutFunction',
  launcher: 'LauncherFunction',
  'audit-archive': 'AuditArchiverFunction',
  'scheduled-run': 'ScheduledRunsFunction',
};

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export function functionOf(template: TemplateJson, name: FunctionName) {
  const pattern = new RegExp(`^${FUNCTION_IDS[name]}[0-9A-F]{8}$`);
  const found = Object.entries(template.Resources).filter(
    ([id, r]) => r.Type === 'AWS::Lambda::Function' && pattern.test(id),
  );
  if (found.length !== 1) throw new Error(`expected one ${name} function, found ${found.length}`);
  return { id: found[0][0], resource: found[0][1] };
}

export function roleIdOf(template: TemplateJson, name: FunctionName): string {
  return functionOf(template, name).resource.Properties.Role['Fn::GetAtt'][0];
}

/** Every identity statement attached to the function's role (inline and policy resources). */
export function statementsOf(template: TemplateJson, name: FunctionName): Statement[] {
  const roleId = roleIdOf(template, name);
  const out: Statement[] = [];
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = resource.Properties.Roles as { Ref: string }[];
    if (roles.some((r) => r.Ref === roleId)) out.push(...resource.Properties.PolicyDocument.Statement);
  }
  out.push(
    ...(template.Resources[roleId].Properties.Policies ?? []).flatMap(
      (p: { PolicyDocument: { Statement: Statement[] } }) => p.PolicyDocument.Statement,
    ),
  );
  return out;
}

export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** Statements granting an action. */
export function granting(statements: readonly Statement[], action: string): Statement[] {
  return statements.filter((s) => s.Effect === 'Allow' && actionsOf(s).includes(action));
}

/** The output name a weak cross-stack reference reads (`Fn::GetStackOutput`), for matching resources. */
export function outputName(value: unknown): string | undefined {
  return (value as { 'Fn::GetStackOutput'?: { OutputName: string } })?.['Fn::GetStackOutput']?.OutputName;
}
