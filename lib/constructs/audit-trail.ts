import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { createRetainedKey } from './retained-key';

export interface AuditTrailProps {
  /** The control-plane tables: reads and writes of their items are data events, recorded only by a trail that asks. */
  readonly tables: readonly dynamodb.ITable[];
  /** Days the log files stay locked in the bucket (S3 Object Lock, governance mode). */
  readonly retentionDays: number;
}

/**
 * This deployment's own CloudTrail trail (config `audit.trail: true`): every management event of the
 * home region and the global services (KMS Decrypt and GenerateDataKey, Secrets Manager GetSecretValue and
 * PutSecretValue, key and secret policy changes, RunTask, IAM) and the data events of the control-plane
 * tables (GetItem, Query, Scan, PutItem, ... on item level), which no trail records unless asked. Log files
 * are encrypted with their own key, digest-validated, and kept in a retained, versioned bucket under Object
 * Lock. An organization trail usually covers management events already; the data events are what it lacks.
 */
export class AuditTrail extends Construct {
  readonly trail: cloudtrail.Trail;
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AuditTrailProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const key = createRetainedKey(this, 'Key', {
      description: "Cubicle: encrypts the deployment's CloudTrail log files",
    });
    const trailArn = stack.formatArn({
      service: 'cloudtrail',
      resource: 'trail',
      resourceName: `${stack.stackName}-audit`,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudTrailEncryptsThisTrail',
        principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
        actions: ['kms:GenerateDataKey*', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceArn': trailArn },
          StringLike: {
            'kms:EncryptionContext:aws:cloudtrail:arn': `arn:${stack.partition}:cloudtrail:*:${stack.account}:trail/*`,
          },
        },
      }),
    );

    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.governance(Duration.days(props.retentionDays)),
      removalPolicy: RemovalPolicy.RETAIN,
      // Superseded versions (none are written: log files are never overwritten) leave after the lock.
      lifecycleRules: [
        {
          noncurrentVersionExpiration: Duration.days(props.retentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
    // Object events to EventBridge (Control Tower CT.S3.PR.4), set on the resource itself: the L2 option
    // adds a custom-resource function for it.
    (this.bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };

    this.trail = new cloudtrail.Trail(this, 'Trail', {
      trailName: `${stack.stackName}-audit`,
      bucket: this.bucket,
      encryptionKey: key,
      enableFileValidation: true,
      includeGlobalServiceEvents: true,
      isMultiRegionTrail: false,
      managementEvents: cloudtrail.ReadWriteType.ALL,
    });
    // Data events of the tables by advanced selectors (the basic ones know only S3 and Lambda); with them,
    // management events must be selected the same way.
    const cfnTrail = this.trail.node.defaultChild as cloudtrail.CfnTrail;
    cfnTrail.eventSelectors = undefined;
    cfnTrail.advancedEventSelectors = [
      { name: 'Management events', fieldSelectors: [{ field: 'eventCategory', equalTo: ['Management'] }] },
      {
        name: 'Control-plane table items',
        fieldSelectors: [
          { field: 'eventCategory', equalTo: ['Data'] },
          { field: 'resources.type', equalTo: ['AWS::DynamoDB::Table'] },
          { field: 'resources.ARN', equalTo: props.tables.map((t) => t.tableArn) },
        ],
      },
    ];

    Validations.of(this.bucket).acknowledge(
      {
        id: 'AwsSolutions-S1',
        reason:
          "The trail's own bucket: access to it is itself a CloudTrail event (management for the bucket, and a trail can add its data events); access logs of it would land in another bucket needing the same.",
      },
      { id: 'NIST.800.53.R5-S3BucketLoggingEnabled', reason: "The trail's own bucket: see AwsSolutions-S1." },
      {
        id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
        reason:
          'Log files are kept under Object Lock in the home region; replicating them is an organization choice (an organization trail usually does it).',
      },
    );
    Validations.of(this.trail).acknowledge({
      id: 'NIST.800.53.R5-CloudTrailCloudWatchLogsEnabled',
      reason:
        'The trail feeds S3 (Object Lock); security events reach EventBridge without it (lib/constructs/security-events.ts), and delivering every data event to CloudWatch Logs would cost more than the trail.',
    });
  }
}
