import { agentRolePath } from '../../runtime/shared/names';
import { Assembly } from './assembly';
import { PolicyJson, SimulatedPrincipal } from './iam-simulator';

/**
 * Every IAM role of the assembly with the identity policies attached to it (inline `Policies`,
 * `AWS::IAM::Policy` and customer-managed `AWS::IAM::ManagedPolicy` resources naming it), resolved.
 * AWS-managed policies cannot be read from the templates: they are listed, not evaluated.
 */
export interface RoleModel {
  readonly stack: string;
  readonly logicalId: string;
  readonly constructPath: string;
  readonly name: string;
  readonly arn: string;
  readonly path: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly trust: PolicyJson;
  readonly maxSessionDuration?: number;
  /** Policies the evaluator sees, each named `LogicalId` or `LogicalId.PolicyName`. */
  readonly identityPolicies: readonly { readonly name: string; readonly policy: PolicyJson }[];
  /** AWS-managed policy ARNs attached to the role (not evaluated). */
  readonly awsManagedPolicies: readonly string[];
  /** The principal as the IAM evaluator takes it. */
  readonly principal: SimulatedPrincipal;
}

export const tagsOf = (tags: unknown): Record<string, string> => {
  if (Array.isArray(tags))
    return Object.fromEntries(tags.map((t: { Key: string; Value: string }) => [t.Key, String(t.Value)]));
  if (tags && typeof tags === 'object') return Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)]));
  return {};
};

export function readRoles(assembly: Assembly): RoleModel[] {
  const attached = new Map<string, { name: string; policy: PolicyJson }[]>();
  const attach = (stack: string, roleRef: string, name: string, policy: PolicyJson) => {
    const key = `${stack}\u0000${roleRef}`;
    attached.set(key, [...(attached.get(key) ?? []), { name, policy }]);
  };
  const customerManaged = new Map<string, { name: string; policy: PolicyJson }>();
  for (const ref of assembly.resources('AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy')) {
    const props = assembly.props(ref);
    if (ref.type === 'AWS::IAM::ManagedPolicy')
      customerManaged.set(assembly.resolver.ref(ref.stack, ref.logicalId), {
        name: ref.logicalId,
        policy: props.PolicyDocument,
      });
    for (const role of props.Roles ?? []) attach(ref.stack, String(role), ref.logicalId, props.PolicyDocument);
  }

  const roles: RoleModel[] = [];
  for (const ref of assembly.resources('AWS::IAM::Role')) {
    const props = assembly.props(ref);
    const name = assembly.resolver.ref(ref.stack, ref.logicalId);
    const arn = assembly.resolver.getAtt(ref.stack, ref.logicalId, 'Arn');
    const tags = tagsOf(props.Tags);
    const identityPolicies = [
      ...(props.Policies ?? []).map((p: { PolicyName: string; PolicyDocument: PolicyJson }) => ({
        name: `${ref.logicalId}.${p.PolicyName}`,
        policy: p.PolicyDocument,
      })),
      ...(attached.get(`${ref.stack}\u0000${name}`) ?? []),
    ];
    const awsManagedPolicies: string[] = [];
    for (const managed of props.ManagedPolicyArns ?? []) {
      const policy = customerManaged.get(String(managed));
      if (policy) identityPolicies.push(policy);
      else awsManagedPolicies.push(String(managed));
    }
    roles.push({
      stack: ref.stack,
      logicalId: ref.logicalId,
      constructPath: assembly.constructPath(ref.stack, ref.logicalId),
      name,
      arn,
      path: props.Path ?? '/',
      tags,
      trust: props.AssumeRolePolicyDocument,
      maxSessionDuration: props.MaxSessionDuration,
      identityPolicies,
      awsManagedPolicies,
      // A session of the role: `aws:userid` is its unique id, then the session name (a task id for ECS).
      principal: {
        arn,
        accountId: assembly.account,
        tags,
        identityPolicies,
        userId: `${assembly.resolver.getAtt(ref.stack, ref.logicalId, 'RoleId')}:4f1c2a9b8e7d6c5b`,
      },
    });
  }
  return roles;
}

/** Whether a role is a pair's task role (path `/cubicle/<name>/agents/`). */
export function isAgentRole(assembly: Assembly, role: RoleModel): boolean {
  return role.path === agentRolePath(assembly.deployment);
}

/** An account administrator: `Action: "*"` on `Resource: "*"`, as AdministratorAccess grants. */
export function administrator(assembly: Assembly): SimulatedPrincipal {
  return {
    arn: `arn:aws:iam::${assembly.account}:role/Administrator`,
    accountId: assembly.account,
    identityPolicies: [
      {
        name: 'AdministratorAccess',
        policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
      },
    ],
  };
}
