import { TABLES, TableName } from '../../runtime/shared/tables';
import { assemblyFromTemplates } from '../../scripts/review/assembly';
import { readFleetModel as readReviewModel } from '../../scripts/review/fleet';
import { TemplateJson } from '../support/assembly';
import { CfnResolver } from '../support/cfn-intrinsics';
import { PolicyJson, SimulatedPrincipal } from '../support/iam-simulator';

/**
 * What the isolation claims are about, read back from synthesized templates with every intrinsic
 * resolved, in the shape the fleet tests use. The reading itself is the security review's
 * (scripts/review/fleet.ts): nothing here comes from lib/, only from the templates.
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

export function readFleetModel(options: {
  readonly resolver: CfnResolver;
  readonly templates: ReadonlyMap<string, TemplateJson>;
  readonly deployment: string;
  readonly account: string;
}): FleetModel {
  const { resolver, templates, deployment, account } = options;
  const assembly = assemblyFromTemplates(templates, { account, regionOf: resolver.env.regionOf });
  if (assembly.deployment !== deployment)
    throw new Error(`templates of deployment ${assembly.deployment}, not ${deployment}`);
  const model = readReviewModel(assembly);
  const secrets = model.secrets.map((s): SecretModel => {
    const match = new RegExp(`^cubicle/${deployment}/([^/]+)/(provider|connection)/(.+)$`).exec(s.name);
    if (!match || !s.resourcePolicy)
      throw new Error(`unexpected secret ${s.name} (or no resource policy) in ${s.stack}`);
    return {
      stack: s.stack,
      userId: match[1],
      kind: match[2] as SecretModel['kind'],
      id: match[3],
      name: s.name,
      arn: s.arn,
      resourcePolicy: s.resourcePolicy,
      keyArn: s.key.arn,
      keyPolicy: s.key.policy,
      keyUserTag: s.key.userId,
    };
  });
  const tables = {} as Record<TableName, { arn: string }>;
  for (const table of model.tables) {
    const name = (Object.keys(TABLES) as TableName[]).find((t) =>
      new RegExp(`^Tables${TABLES[t].id}[0-9A-F]{8}$`).test(table.logicalId),
    );
    if (name) tables[name] = { arn: table.arn };
  }
  return {
    roles: model.pairs.map((p) => ({
      stack: p.role.stack,
      logicalId: p.role.logicalId,
      userId: p.userId,
      agentId: p.agentId,
      principal: p.role.principal,
    })),
    secrets,
    accessPoints: model.accessPoints.map((a) => {
      if (!a.fileSystem?.policy || !a.userId || !a.agentId)
        throw new Error(`access point ${a.logicalId} lacks its file system policy or its tags in ${a.stack}`);
      return {
        stack: a.stack,
        userId: a.userId,
        agentId: a.agentId,
        arn: a.arn,
        fileSystemArn: a.fileSystem.arn,
        fileSystemPolicy: a.fileSystem.policy,
      };
    }),
    keys: model.userKeys.map((k) => ({ stack: k.stack, userId: k.userId, arn: k.arn, policy: k.policy })),
    tables,
  };
}
