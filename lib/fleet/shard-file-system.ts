import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as efs from 'aws-cdk-lib/aws-efs';
import { Construct } from 'constructs';
import { constructIdOf } from '../../runtime/shared/ids';
import { attributeWithinStack, refWithinStack } from './intrinsics';
import { denyEveryone, policy } from './policy-json';

/** The EFS client actions a file system policy governs. */
export const EFS_CLIENT_ACTIONS = [
  'elasticfilesystem:ClientMount',
  'elasticfilesystem:ClientWrite',
  'elasticfilesystem:ClientRootAccess',
] as const;

export interface ShardFileSystemProps {
  /** Key for data at rest (the platform key). */
  readonly encryptionKeyArn: string;
  /** One mount target per subnet (the VPC's private subnets). */
  readonly subnets: readonly ec2.ISubnet[];
  /** The EFS security group: NFS from agent tasks only. */
  readonly securityGroupId: string;
}

/**
 * A shard's file system (claim 2, docs/isolation-claims.md): encrypted, elastic throughput, automatic backups, retained.
 * Its policy replaces EFS's default (anonymous full access) and only denies: any client that does not
 * mount through an access point, that does not use TLS, or that asks for root. It allows nothing, so
 * a pair's role reaches the file system only through its own identity policy (its own access point).
 */
export class ShardFileSystem extends Construct {
  readonly fileSystem: efs.CfnFileSystem;
  readonly fileSystemId: string;
  readonly fileSystemArn: string;

  constructor(scope: Construct, id: string, props: ShardFileSystemProps) {
    super(scope, id);
    // No Resource element: in a file system policy it is the file system itself (as in CDK's own EFS policies).
    this.fileSystem = new efs.CfnFileSystem(this, 'FileSystem', {
      encrypted: true,
      kmsKeyId: props.encryptionKeyArn,
      performanceMode: 'generalPurpose',
      throughputMode: 'elastic',
      backupPolicy: { status: 'ENABLED' },
      fileSystemPolicy: policy(
        denyEveryone('DenyWithoutTls', EFS_CLIENT_ACTIONS, { BoolIfExists: { 'aws:SecureTransport': 'false' } }),
        denyEveryone('DenyWithoutAccessPoint', EFS_CLIENT_ACTIONS, {
          Null: { 'elasticfilesystem:AccessPointArn': 'true' },
        }),
        denyEveryone('DenyRootAccess', ['elasticfilesystem:ClientRootAccess']),
      ),
    });
    this.fileSystem.applyRemovalPolicy(RemovalPolicy.RETAIN);
    Validations.of(this.fileSystem).acknowledge({
      id: 'NIST.800.53.R5-EFSInBackupPlan',
      reason:
        'BackupPolicy ENABLED puts the file system in the AWS Backup plan EFS manages (aws/efs/automatic-backup-plan: daily, kept 35 days); Control Tower CT.ELASTICFILESYSTEM.PR.2 checks exactly this setting.',
    });
    // Every cell of the shard names the file system (lib/fleet/intrinsics.ts).
    this.fileSystemId = refWithinStack(this.fileSystem);
    this.fileSystemArn = attributeWithinStack(this.fileSystem, 'Arn');

    for (const subnet of props.subnets) {
      new efs.CfnMountTarget(this, `MountTarget${constructIdOf(subnet.availabilityZone)}`, {
        fileSystemId: this.fileSystem.ref,
        subnetId: subnet.subnetId,
        securityGroups: [props.securityGroupId],
      });
    }
  }
}
