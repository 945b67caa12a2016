import { Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ENV } from '../../runtime/shared/function-contract';
import { CHAIN_KEY_ENV } from '../../runtime/shared/chain-key';
import { CubicleFunction } from './cubicle-function';
import type { FunctionBase } from './employee-api';
import { createRetainedKey } from './retained-key';

export interface AuditArchiveProps {
  readonly base: FunctionBase;
  /** The Events table; its stream (new images) feeds the archive. */
  readonly events: dynamodb.ITable;
  /** The platform key the table (and so its stream) is encrypted with. */
  readonly tableKey: kms.IKey;
  /** Days every archived event stays locked (S3 Object Lock, compliance mode): config `audit.archiveRetentionDays`. */
  readonly retentionDays: number;
  /** Where tampering with an Events row is raised (lib/constructs/security-events.ts), and the key it is encrypted with. */
  readonly securityTopic: sns.ITopic;
  readonly securityTopicKey: kms.IKey;
}

/** Where S3 delivers the archive's own server access logs (in the bucket itself, as the console's bucket does). */
const ACCESS_LOG_PREFIX = 'access-logs/';

/**
 * The audit trail out of reach (docs/isolation-claims.md claim 8; README "Audit archive"):
 * - the chain key: a KMS HMAC_256 key. Only the functions that append events may GenerateMac with it
 *   (admitAppenders: named in the key policy, which no IAM policy can extend); any principal the account's
 *   IAM allows may VerifyMac (verifying forges nothing). No agent role can compute a valid row.
 * - the archive: every inserted Events row, copied by a stream consumer into a bucket under S3 Object Lock
 *   in compliance mode (no one, the root user included, can delete or overwrite a version before its
 *   retention ends), versioned, encrypted, TLS only, retained; only the consumer may write, no one may delete.
 * - MODIFY or REMOVE of an Events row raises a security event (runtime/control-plane/audit-archive.ts).
 */
export class AuditArchive extends Construct {
  readonly chainKey: kms.Key;
  readonly bucket: s3.Bucket;
  readonly archiver: CubicleFunction;
  private admitted = false;

  constructor(scope: Construct, id: string, props: AuditArchiveProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.chainKey = createRetainedKey(this, 'ChainKey', {
      description: 'Cubicle: MACs the audit chain of agent events (HMAC_256)',
      iamGrantsUse: false,
      hmac: true,
    });
    this.chainKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AccountVerifiesChains',
        principals: [new iam.AccountRootPrincipal()],
        actions: ['kms:VerifyMac'],
        resources: ['*'],
      }),
    );
    Validations.of(this.chainKey).acknowledge({
      id: 'AwsSolutions-KMS5',
      reason:
        'An HMAC_256 key: KMS rotates only symmetric encryption keys automatically (https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html); a new key would break verification of every existing chain.',
    });

    const archiveKey = createRetainedKey(this, 'ArchiveKey', {
      description: 'Cubicle: encrypts the audit archive of agent events',
    });
    // Server access logs are delivered by S3's logging service under this key.
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
    archiveKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowS3ServerAccessLogDelivery',
        principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: archiveKey,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      serverAccessLogsPrefix: ACCESS_LOG_PREFIX,
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(props.retentionDays)),
      removalPolicy: RemovalPolicy.RETAIN,
      // No expiration of events: the archive is permanent. Access logs leave with the log retention (once
      // their own lock ends); abandoned uploads after a week.
      lifecycleRules: [
        { id: 'Uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
        { id: 'AccessLogs', prefix: ACCESS_LOG_PREFIX, expiration: Duration.days(props.base.logRetentionDays) },
      ],
    });
    // Object events to EventBridge (Control Tower CT.S3.PR.4), on the resource: the L2 option adds a function.
    (this.bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };

    this.archiver = new CubicleFunction(this, 'ArchiverFunction', {
      ...props.base,
      handler: 'audit-archive',
      description: 'audit archive (Events stream: INSERTs to S3 Object Lock, MODIFY and REMOVE raised)',
    });
    const fn = this.archiver;
    fn.setEnv(ENV.archiveBucket, this.bucket.bucketName);
    const objects = this.bucket.arnForObjects('events/*');
    fn.allow(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [objects] }));
    fn.allow(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey'],
        resources: [archiveKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } },
      }),
    );
    fn.setEnv(ENV.securityTopic, props.securityTopic.topicArn);
    fn.allow(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [props.securityTopic.topicArn] }));
    // SNS encrypts a published message with a data key of the topic's key, asked for as the publisher.
    fn.allow(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [props.securityTopicKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sns.${stack.region}.amazonaws.com` } },
      }),
    );
    // The stream: not DynamoEventSource, whose grant adds the table key without kms:ViaService.
    const stream = props.events.tableStreamArn as string;
    fn.bindTableKey(props.tableKey);
    fn.allow(
      new iam.PolicyStatement({
        actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
        resources: [stream],
      }),
    );
    // ListStreams has no resource to scope (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html).
    fn.allow(new iam.PolicyStatement({ actions: ['dynamodb:ListStreams'], resources: ['*'] }));
    new lambda.EventSourceMapping(this, 'EventsStream', {
      target: fn.function,
      eventSourceArn: stream,
      // From the oldest record the stream holds: a consumer deployed late still archives what it can reach.
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      reportBatchItemFailures: true,
      // Retried until archived (the stream keeps records 24 hours): an event is never skipped.
      retryAttempts: -1,
    });

    // Only the archiver writes events; nobody deletes (a delete marker would hide a locked version from readers).
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyTheArchiverWritesEvents',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [objects],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': fn.role.roleArn } },
      }),
    );
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'NoOneDeletes',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:BypassGovernanceRetention'],
        resources: [this.bucket.arnForObjects('*')],
      }),
    );

    Validations.of(this.bucket).acknowledge({
      id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
      reason:
        'Archived events are kept under Object Lock (compliance) in the home region; replicating them to another region is an organization choice, and a replica would add a second bucket, key and role.',
    });
    Validations.of(fn.role).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Only actions without resource-level permissions use "*": dynamodb:ListStreams (the stream source), X-Ray PutTraceSegments/PutTelemetryRecords and the EC2 network-interface actions Lambda performs in a VPC.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::<${stack.resolve(stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket))}.Arn>/events/*]`,
        reason:
          'Object keys are events/<user>/<agent>/<sequence>.json, one per event; the grant is PutObject under events/ in this bucket only.',
      },
    );
    Validations.of(fn.function).acknowledge({
      id: 'NIST.800.53.R5-LambdaDLQ',
      reason:
        'A DynamoDB stream source retries a failed record until it is archived (retryAttempts -1, ReportBatchItemFailures); a dead-letter queue would let an event skip the archive.',
    });
    this.node.addValidation({
      validate: () =>
        this.admitted ? [] : ['the audit archive never admitted the event appenders (call admitAppenders())'],
    });
  }

  /**
   * The functions that append events (every role with PutItem on Events): GenerateMac on the chain key,
   * named in its policy, and the key's ARN in CUBICLE_CHAIN_KEY_ARN. Called once, with all of them.
   */
  admitAppenders(appenders: readonly CubicleFunction[]): void {
    if (this.admitted) throw new Error('the audit archive admitted its appenders already');
    this.admitted = true;
    this.chainKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'ControlPlaneAppendsEvents',
        principals: appenders.map((fn) => fn.role),
        actions: ['kms:GenerateMac'],
        resources: ['*'],
        conditions: { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_256' } },
      }),
    );
    for (const fn of appenders) fn.setEnv(CHAIN_KEY_ENV, this.chainKey.keyArn);
  }
}
