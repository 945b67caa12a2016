import { TABLES, TableName } from '../../runtime/shared/tables';
import { TemplateJson } from '../support/assembly';
import { CfnResolver } from '../support/cfn-intrinsics';
import { PolicyJson, SimulatedPrincipal } from '../support/iam-simulator';

/**
 * What the isolation claims are about, read back from synthesized templates with every intrinsic
 * resolved: each pair's task role (with its identity policy), each vault secret (with its resource
 * policy and its key's policy), each access point (with its file system and that file system's policy)
 * and the control-plane tables. Nothing here comes from lib/: only from the templates.
 */

export interface RoleModel {
  readonly stack: string;
  readonly logicalId: string;
  readonly userId: string;
  readonly agentId: string;
  readonly principal: SimulatedPrincipal;
}

export interface SecretModel {
  readonly stack: string;
  readonly userId: string;
  readonly kind: 'provider' | 'connection';
  readonly id: string;
  readonly name: string;
  readonly arn: string;
  readonly resourcePolicy: PolicyJson;
  readonly keyArn: string;
  readonly keyPolicy: PolicyJson;
  readonly keyUserTag: string;
}

/** A user's key: it seals their records as well as their secrets. */
export interface UserKeyModel {
  readonly stack: string;
  readonly userId: string;
  readonly arn: string;
  readonly policy: PolicyJson;
}

export interface AccessPointModel {
  readonly stack: string;
  readonly userId: string;
  readonly agentId: string;
  readonly arn: string;
  readonly fileSystemArn: string;
  readonly fileSystemPolicy: PolicyJson;
}

export interface FleetModel {
  readonly roles: RoleModel[];
  readonly secrets: SecretModel[];
  readonly keys: UserKeyModel[];
  readonly accessPoints: AccessPointModel[];
  readonly tables: Record<TableName, { readonly arn: string }>;
}

const tagsOf = (tags: { Key: string; Value: string }[] | undefined): Record<string, string> =>
  Object.fromEntries((tags ?? []).map((t) => [t.Key, t.Value]));

export function readFleetModel(options: {
  readonly resolver: CfnResolver;
  readonly templates: ReadonlyMap<string, TemplateJson>;
  readonly deployment: string;
  readonly account: string;
}): FleetModel {
  const { resolver, templates, deployment, account } = options;
  const fleetStacks = [...templates.keys()].filter((name) => name.startsWith(`${deployment}-Fleet-`));
  const roles: RoleModel[] = [];
  const secrets: SecretModel[] = [];
  const userKeys: UserKeyModel[] = [];
  const accessPoints: AccessPointModel[] = [];

  for (const stack of fleetStacks) {
    const resources = Object.entries(templates.get(stack)!.Resources);
    const props = (id: string) => resolver.resolve(stack, templates.get(stack)!.Resources[id].Properties ?? {});
    const ofType = (type: string) => resources.filter(([, r]) => r.Type === type).map(([id]) => id);

    for (const id of ofType('AWS::IAM::Role')) {
      const p = props(id);
      if (p.Path !== `/cubicle/${deployment}/agents/`) continue;
      const tags = tagsOf(p.Tags);
      roles.push({
        stack,
        logicalId: id,
        userId: tags.user_id,
        agentId: tags.agent_id,
        principal: {
          arn: resolver.getAtt(stack, id, 'Arn'),
          accountId: account,
          // A task's session of the role: its unique id, then the session name ECS picks.
          userId: `${resolver.getAtt(stack, id, 'RoleId')}:4f1c2a9b8e7d6c5b`,
          tags,
          identityPolicies: (p.Policies ?? []).map((x: { PolicyName: string; PolicyDocument: PolicyJson }) => ({
            name: x.PolicyName,
            policy: x.PolicyDocument,
          })),
        },
      });
    }

    const keys = new Map<string, { policy: PolicyJson; userTag: string }>();
    for (const id of ofType('AWS::KMS::Key')) {
      const p = props(id);
      keys.set(resolver.getAtt(stack, id, 'Arn'), { policy: p.KeyPolicy, userTag: tagsOf(p.Tags).user_id });
      userKeys.push({ stack, userId: tagsOf(p.Tags).user_id, arn: resolver.getAtt(stack, id, 'Arn'), policy: p.KeyPolicy });
    }
    const secretPolicies = new Map<string, PolicyJson>();
    for (const id of ofType('AWS::SecretsManager::ResourcePolicy')) {
      const p = props(id);
      secretPolicies.set(p.SecretId, p.ResourcePolicy);
    }
    for (const id of ofType('AWS::SecretsManager::Secret')) {
      const p = props(id);
      const match = new RegExp(`^cubicle/${deployment}/([^/]+)/(provider|connection)/(.+)$`).exec(p.Name);
      if (!match) throw new Error(`unexpected secret name ${p.Name}`);
      const arn = resolver.ref(stack, id);
      const key = keys.get(p.KmsKeyId);
      const resourcePolicy = secretPolicies.get(arn);
      if (!key || !resourcePolicy) throw new Error(`secret ${p.Name} lacks its key or resource policy in ${stack}`);
      secrets.push({
        stack,
        userId: match[1],
        kind: match[2] as SecretModel['kind'],
        id: match[3],
        name: p.Name,
        arn,
        resourcePolicy,
        keyArn: p.KmsKeyId,
        keyPolicy: key.policy,
        keyUserTag: key.userTag,
      });
    }

    const fileSystems = new Map<string, { arn: string; policy: PolicyJson }>();
    for (const id of ofType('AWS::EFS::FileSystem')) {
      fileSystems.set(resolver.ref(stack, id), { arn: resolver.getAtt(stack, id, 'Arn'), policy: props(id).FileSystemPolicy });
    }
    for (const id of ofType('AWS::EFS::AccessPoint')) {
      const p = props(id);
      const tags = tagsOf(p.AccessPointTags);
      const fileSystem = fileSystems.get(p.FileSystemId);
      if (!fileSystem) throw new Error(`access point ${id} is on a file system outside ${stack}`);
      accessPoints.push({
        stack,
        userId: tags.user_id,
        agentId: tags.agent_id,
        arn: resolver.getAtt(stack, id, 'Arn'),
        fileSystemArn: fileSystem.arn,
        fileSystemPolicy: fileSystem.policy,
      });
    }
  }

  const platform = `${deployment}-Platform`;
  const tables = {} as Record<TableName, { arn: string }>;
  for (const [id, resource] of Object.entries(templates.get(platform)!.Resources)) {
    if (resource.Type !== 'AWS::DynamoDB::Table') continue;
    // Logical ids of the Platform's tables: Tables<Id><hash> (construct path Tables/<Id>).
    const name = (Object.keys(TABLES) as TableName[]).find((t) => new RegExp(`^Tables${TABLES[t].id}[0-9A-F]{8}$`).test(id));
    if (name) tables[name] = { arn: resolver.getAtt(platform, id, 'Arn') };
  }
  return { roles, secrets, keys: userKeys, accessPoints, tables };
}
