import { Assembly, ResourceRef } from './assembly';
import { PolicyJson } from './iam-simulator';
import { isAgentRole, readRoles, RoleModel, tagsOf } from './principals';

/**
 * What the isolation claims are about, read back from the templates with every intrinsic resolved:
 * the (user, agent) pairs (task role, task definitions, access points), users' keys and secrets, the
 * file systems and the tables. Which secrets a pair should read is what its own task definition names,
 * so the expectations of the isolation matrix come from the templates too, never from a config.
 */

export interface PairModel {
  readonly userId: string;
  readonly agentId: string;
  /** `<user>#<agent>`: the pair's partition key in every control-plane table (runtime/shared/tables.ts). */
  readonly key: string;
  readonly role: RoleModel;
  readonly taskDefinitions: readonly TaskDefinitionModel[];
  readonly accessPoints: readonly AccessPointModel[];
  /** ARNs of the vault secrets the pair's task definitions name (environment, secrets, anything). */
  readonly ownSecretArns: ReadonlySet<string>;
}

export interface TaskDefinitionModel extends ResourceRef {
  readonly props: any;
  readonly family: string;
  readonly taskRoleArn: string;
}

export interface UserKeyModel extends ResourceRef {
  readonly arn: string;
  readonly userId: string;
  readonly policy: PolicyJson;
  readonly props: any;
}

export interface SecretModel extends ResourceRef {
  readonly name: string;
  readonly arn: string;
  /** From the key that encrypts it (its `user_id` tag). */
  readonly userId: string;
  readonly key: UserKeyModel;
  readonly resourcePolicy?: PolicyJson;
  readonly resourcePolicyProps?: any;
  readonly props: any;
}

export interface FileSystemModel extends ResourceRef {
  readonly id: string;
  readonly arn: string;
  readonly policy?: PolicyJson;
  readonly props: any;
}

export interface AccessPointModel extends ResourceRef {
  readonly id: string;
  readonly arn: string;
  readonly userId?: string;
  readonly agentId?: string;
  readonly fileSystem?: FileSystemModel;
  readonly props: any;
}

export interface TableModel extends ResourceRef {
  /** The table's construct id (`Sessions`, `Inbox`, ...), else its logical id. */
  readonly label: string;
  readonly arn: string;
  readonly props: any;
}

export interface FleetModel {
  readonly roles: readonly RoleModel[];
  readonly pairs: readonly PairModel[];
  /** Agent roles whose tags do not name a pair, and task definitions or access points of no pair. */
  readonly strays: readonly string[];
  readonly userKeys: readonly UserKeyModel[];
  readonly secrets: readonly SecretModel[];
  readonly fileSystems: readonly FileSystemModel[];
  readonly accessPoints: readonly AccessPointModel[];
  readonly taskDefinitions: readonly TaskDefinitionModel[];
  readonly tables: readonly TableModel[];
}

const SECRET_ARN = /arn:[a-z-]+:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+/g;

export function readFleetModel(assembly: Assembly): FleetModel {
  const roles = readRoles(assembly);
  const strays: string[] = [];

  const userKeys: UserKeyModel[] = [];
  for (const ref of assembly.resources('AWS::KMS::Key')) {
    const props = assembly.props(ref);
    const userId = tagsOf(props.Tags).user_id;
    if (userId)
      userKeys.push({
        ...ref,
        arn: assembly.resolver.getAtt(ref.stack, ref.logicalId, 'Arn'),
        userId,
        policy: props.KeyPolicy,
        props,
      });
  }
  const keyByArn = new Map(userKeys.map((k) => [k.arn, k]));

  const secretPolicies = new Map<string, any>();
  for (const ref of assembly.resources('AWS::SecretsManager::ResourcePolicy')) {
    const props = assembly.props(ref);
    secretPolicies.set(String(props.SecretId), props);
  }
  const secrets: SecretModel[] = [];
  for (const ref of assembly.resources('AWS::SecretsManager::Secret')) {
    const props = assembly.props(ref);
    const key = keyByArn.get(String(props.KmsKeyId));
    if (!key) continue; // not a vault secret (e.g. the origin-verify secret)
    const arn = assembly.resolver.ref(ref.stack, ref.logicalId);
    const policy = secretPolicies.get(arn);
    secrets.push({
      ...ref,
      name: String(props.Name ?? ref.logicalId),
      arn,
      userId: key.userId,
      key,
      resourcePolicy: policy?.ResourcePolicy,
      resourcePolicyProps: policy,
      props,
    });
  }
  const secretByArn = new Map(secrets.map((s) => [s.arn, s]));

  const fileSystems: FileSystemModel[] = assembly.resources('AWS::EFS::FileSystem').map((ref) => {
    const props = assembly.props(ref);
    return {
      ...ref,
      id: assembly.resolver.ref(ref.stack, ref.logicalId),
      arn: assembly.resolver.getAtt(ref.stack, ref.logicalId, 'Arn'),
      policy: props.FileSystemPolicy,
      props,
    };
  });
  const fileSystemById = new Map(fileSystems.map((f) => [f.id, f]));
  const accessPoints: AccessPointModel[] = assembly.resources('AWS::EFS::AccessPoint').map((ref) => {
    const props = assembly.props(ref);
    const tags = tagsOf(props.AccessPointTags);
    return {
      ...ref,
      id: assembly.resolver.ref(ref.stack, ref.logicalId),
      arn: assembly.resolver.getAtt(ref.stack, ref.logicalId, 'Arn'),
      userId: tags.user_id,
      agentId: tags.agent_id,
      fileSystem: fileSystemById.get(String(props.FileSystemId)),
      props,
    };
  });
  const accessPointById = new Map(accessPoints.map((a) => [a.id, a]));

  const taskDefinitions: TaskDefinitionModel[] = assembly.resources('AWS::ECS::TaskDefinition').map((ref) => {
    const props = assembly.props(ref);
    return {
      ...ref,
      props,
      family: String(props.Family ?? ref.logicalId),
      taskRoleArn: String(props.TaskRoleArn ?? ''),
    };
  });

  const agentRoles = roles.filter((r) => isAgentRole(assembly, r));
  const pairs: PairModel[] = [];
  for (const role of agentRoles) {
    const { user_id: userId, agent_id: agentId } = role.tags;
    if (!userId || !agentId) {
      strays.push(`task role ${assembly.label(role)} has no user_id/agent_id tags`);
      continue;
    }
    const own = taskDefinitions.filter((t) => t.taskRoleArn === role.arn);
    const apIds = new Set(
      own.flatMap((t) =>
        (t.props.Volumes ?? [])
          .map((v: any) => v.EFSVolumeConfiguration?.AuthorizationConfig?.AccessPointId)
          .filter(Boolean),
      ),
    );
    const ownAccessPoints = [...apIds]
      .map((id) => accessPointById.get(String(id)))
      .filter((a): a is AccessPointModel => a !== undefined);
    const ownSecretArns = new Set<string>();
    for (const t of own) {
      for (const match of JSON.stringify(t.props.ContainerDefinitions ?? []).matchAll(SECRET_ARN)) {
        if (secretByArn.has(match[0])) ownSecretArns.add(match[0]);
      }
    }
    pairs.push({
      userId,
      agentId,
      key: `${userId}#${agentId}`,
      role,
      taskDefinitions: own,
      accessPoints: ownAccessPoints,
      ownSecretArns,
    });
  }
  const pairRoleArns = new Set(pairs.map((p) => p.role.arn));
  for (const t of taskDefinitions)
    if (!pairRoleArns.has(t.taskRoleArn))
      strays.push(
        `task definition ${assembly.label(t)} (family ${t.family}) runs as ${t.taskRoleArn || 'no task role'}, not a pair's task role`,
      );
  const pairAccessPoints = new Set(pairs.flatMap((p) => p.accessPoints.map((a) => a.id)));
  for (const a of accessPoints)
    if (!pairAccessPoints.has(a.id))
      strays.push(`access point ${assembly.label(a)} is used by no pair's task definition`);

  const tables: TableModel[] = assembly.resources('AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable').map((ref) => {
    const constructPath = assembly.constructPath(ref.stack, ref.logicalId).split('/').filter(Boolean);
    const last = constructPath[constructPath.length - 1];
    const label = last === 'Resource' || last === 'Default' ? constructPath[constructPath.length - 2] : last;
    return {
      ...ref,
      label: label ?? ref.logicalId,
      arn: assembly.resolver.getAtt(ref.stack, ref.logicalId, 'Arn'),
      props: assembly.props(ref),
    };
  });

  return { roles, pairs, strays, userKeys, secrets, fileSystems, accessPoints, taskDefinitions, tables };
}
