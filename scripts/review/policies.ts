import { TemplateJson } from './templates';

export interface FoundStatement {
  /** `LogicalId.Property` where the statement lives. */
  readonly where: string;
  /** identity: attached to a principal; resource: a resource policy (key, secret, file system, ...). */
  readonly kind: 'identity' | 'resource' | 'trust';
  readonly statement: { Effect: string; Action?: unknown; NotAction?: unknown; Resource?: unknown; Principal?: unknown; Condition?: unknown; Sid?: string };
}

/** Properties that hold policy documents, by resource type. */
const DOCUMENT_PROPERTIES: Record<string, [property: string, kind: FoundStatement['kind']][]> = {
  'AWS::IAM::Policy': [['PolicyDocument', 'identity']],
  'AWS::IAM::ManagedPolicy': [['PolicyDocument', 'identity']],
  'AWS::IAM::Role': [['AssumeRolePolicyDocument', 'trust']],
  'AWS::KMS::Key': [['KeyPolicy', 'resource']],
  'AWS::SecretsManager::ResourcePolicy': [['ResourcePolicy', 'resource']],
  'AWS::EFS::FileSystem': [['FileSystemPolicy', 'resource']],
  'AWS::Logs::ResourcePolicy': [['PolicyDocument', 'resource']],
  'AWS::Lambda::Permission': [],
};

/** Every policy statement of a template, including roles' inline `Policies`. */
export function policyStatements(template: TemplateJson): FoundStatement[] {
  const found: FoundStatement[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const props = resource.Properties ?? {};
    for (const [property, kind] of DOCUMENT_PROPERTIES[resource.Type] ?? []) {
      const document = typeof props[property] === 'string' ? JSON.parse(props[property]) : props[property];
      for (const statement of document?.Statement ?? []) found.push({ where: `${id}.${property}`, kind, statement });
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of props.Policies ?? []) {
        for (const statement of policy.PolicyDocument?.Statement ?? []) {
          found.push({ where: `${id}.Policies.${policy.PolicyName}`, kind: 'identity', statement });
        }
      }
    }
  }
  return found;
}

export type Statement = FoundStatement['statement'];

/** The statements of policy documents (a single statement object counts as a list of one). */
export function statementsOf(documents: readonly (unknown | undefined)[]): { statement: Statement }[] {
  return documents.flatMap((d) => [((d as { Statement?: unknown } | undefined)?.Statement ?? [])].flat().map((statement) => ({ statement: statement as Statement })));
}
