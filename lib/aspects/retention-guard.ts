import { Annotations, CfnDeletionPolicy, CfnResource, IAspect } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** Resource types that hold state an employee or auditor would lose if CloudFormation deleted them. */
export const STATEFUL_TYPES = [
  'AWS::KMS::Key',
  'AWS::SecretsManager::Secret',
  // A secret's denials: without them a retained secret is readable by anyone IAM allows.
  'AWS::SecretsManager::ResourcePolicy',
  'AWS::EFS::FileSystem',
  'AWS::DynamoDB::Table',
  'AWS::DynamoDB::GlobalTable',
  'AWS::Logs::LogGroup',
] as const;

/**
 * Fails synth when a stateful resource is not retained on stack deletion and on replacement
 * (claim 12, docs/isolation-claims.md). It reports rather than fixes: each construct states its own removal policy.
 */
export class RetentionGuard implements IAspect {
  visit(node: IConstruct): void {
    if (!CfnResource.isCfnResource(node)) return;
    if (!(STATEFUL_TYPES as readonly string[]).includes(node.cfnResourceType)) return;
    const { deletionPolicy, updateReplacePolicy } = node.cfnOptions;
    if (deletionPolicy !== CfnDeletionPolicy.RETAIN || updateReplacePolicy !== CfnDeletionPolicy.RETAIN) {
      Annotations.of(node).addError(
        `${node.cfnResourceType} must be retained: set removalPolicy: RemovalPolicy.RETAIN ` +
          `(DeletionPolicy is ${deletionPolicy ?? 'unset'}, UpdateReplacePolicy is ${updateReplacePolicy ?? 'unset'})`,
      );
    }
  }
}
