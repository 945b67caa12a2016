import type { Assembly } from './assembly';
import { TemplateJson } from './templates';

export interface FoundStatement {
  /** `LogicalId.Property` where the statement lives. */
  readonly where: string;
  /** identity: attached to a principal; resource: a resource policy (key, secret, file system, ...). */
  readonly kind: 'identity' | 'resource' | 'trust';
  readonly statement: {
    Effect: string;
    Action?: unknown;
    NotAction?: unknown;
    Resource?: unknown;
    NotResource?: unknown;
    Principal?: unknown;
    Condition?: unknown;
    Sid?: string;
  };
}

export type Statement = FoundStatement['statement'];

/**
 * Properties that hold policy documents, by resource type (a dotted path for nested ones). A new
 * resource type with a policy is one entry here; everything that reads policies goes through it.
 */
const DOCUMENT_PROPERTIES: Record<string, [property: string, kind: FoundStatement['kind']][]> = {
  'AWS::IAM::Policy': [['PolicyDocument', 'identity']],
  'AWS::IAM::ManagedPolicy': [['PolicyDocument', 'identity']],
  'AWS::IAM::Role': [['AssumeRolePolicyDocument', 'trust']],
  'AWS::IAM::User': [],
  'AWS::KMS::Key': [['KeyPolicy', 'resource']],
  'AWS::SecretsManager::ResourcePolicy': [['ResourcePolicy', 'resource']],
  'AWS::EFS::FileSystem': [['FileSystemPolicy', 'resource']],
  'AWS::Logs::ResourcePolicy': [['PolicyDocument', 'resource']],
  'AWS::S3::BucketPolicy': [['PolicyDocument', 'resource']],
  'AWS::SQS::QueuePolicy': [['PolicyDocument', 'resource']],
  'AWS::SNS::TopicPolicy': [['PolicyDocument', 'resource']],
  'AWS::Events::EventBusPolicy': [['Statement', 'resource']],
  'AWS::DynamoDB::Table': [['ResourcePolicy.PolicyDocument', 'resource']],
  'AWS::ECR::Repository': [['RepositoryPolicyText', 'resource']],
  'AWS::ApiGateway::RestApi': [['Policy', 'resource']],
  'AWS::Lambda::Permission': [],
};

/** Every policy statement of a template, including roles' inline `Policies` (values as written, unresolved). */
export function policyStatements(template: TemplateJson): FoundStatement[] {
  return Object.entries(template.Resources).flatMap(([id, resource]) =>
    statementsOfResource(id, resource.Type, resource.Properties ?? {}),
  );
}

export interface ResolvedStatement extends FoundStatement {
  readonly stack: string;
  readonly logicalId: string;
  readonly resourceType: string;
}

/** Every policy statement of the assembly with intrinsics resolved. */
export function resolvedStatements(assembly: Assembly): ResolvedStatement[] {
  return assembly.resources().flatMap((ref) =>
    (DOCUMENT_PROPERTIES[ref.type] ?? []).length > 0 || ref.type === 'AWS::IAM::Role'
      ? statementsOfResource(ref.logicalId, ref.type, assembly.props(ref)).map((s) => ({
          ...s,
          stack: ref.stack,
          logicalId: ref.logicalId,
          resourceType: ref.type,
        }))
      : [],
  );
}

function statementsOfResource(id: string, type: string, props: any): FoundStatement[] {
  const found: FoundStatement[] = [];
  for (const [property, kind] of DOCUMENT_PROPERTIES[type] ?? []) {
    let document = property.split('.').reduce((value, key) => value?.[key], props);
    if (typeof document === 'string') document = JSON.parse(document);
    // An EventBusPolicy's Statement property is one statement, not a document.
    if (property === 'Statement' && document) document = { Statement: [document] };
    for (const statement of [document?.Statement ?? []].flat())
      found.push({ where: `${id}.${property}`, kind, statement });
  }
  if (type === 'AWS::IAM::Role') {
    for (const policy of props.Policies ?? []) {
      for (const statement of [policy.PolicyDocument?.Statement ?? []].flat()) {
        found.push({ where: `${id}.Policies.${policy.PolicyName}`, kind: 'identity', statement });
      }
    }
  }
  return found;
}

/** The statements of policy documents (a single statement object counts as a list of one). */
export function statementsOf(documents: readonly (unknown | undefined)[]): { statement: Statement }[] {
  return documents.flatMap((d) =>
    [(d as { Statement?: unknown } | undefined)?.Statement ?? []]
      .flat()
      .map((statement) => ({ statement: statement as Statement })),
  );
}

export const listOf = (value: unknown): string[] =>
  [value ?? []].flat().map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));

/** Whether an IAM action pattern (`kms:*`, `kms:De*`, `*`) matches an action, case-insensitively. */
export function actionMatches(pattern: string, action: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return regex.test(action);
}

/** The principals a resource-policy statement names, as strings (`*` for everyone). */
export function principalsOf(statement: Statement): string[] {
  const principal = statement.Principal;
  if (principal === '*') return ['*'];
  if (!principal || typeof principal !== 'object') return [];
  return Object.values(principal as Record<string, unknown>).flatMap((v) => listOf(v));
}
