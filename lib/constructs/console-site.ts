import { Annotations, Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { consoleContentSecurityPolicy, type AuthSettings, type ConsoleSettings } from '../../console/settings';
import { consoleSource } from './console-asset';
import { HSTS_MAX_AGE_SECONDS, SECURITY_HEADERS } from './edge-distribution';
import { EncryptedLogGroup } from './encrypted-log-group';
import { createRetainedKey } from './retained-key';

/** Where the console's files sit in the bucket; server access logs go under ACCESS_LOG_PREFIX, never served. */
export const CONSOLE_PAGES = ['index.html', 'config.json'] as const;
export const CONSOLE_ASSET_PREFIX = 'assets/';
export const ACCESS_LOG_PREFIX = 'access-logs/';

/** Pages are revalidated on every load (a deploy shows at once); hashed assets never change. */
export const PAGE_CACHE_CONTROL = 'no-cache';
export const ASSET_CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** Earlier console builds stay this long as noncurrent versions (roll back by restoring them). */
export const NONCURRENT_VERSION_DAYS = 90;

export interface ConsoleSiteProps {
  /** The identity settings the console signs in with (console/settings.ts). */
  readonly auth: AuthSettings;
  /** Origins the page may call besides its own (the identity provider's), for connect-src. */
  readonly connectOrigins: readonly string[];
  readonly logRetentionDays: number;
  /** The control plane's network and logs key: the deployment function runs there like the others. */
  readonly vpc: ec2.IVpc;
  readonly subnets: readonly ec2.ISubnet[];
  readonly securityGroup: ec2.ISecurityGroup;
  readonly logKey: kms.IKey;
}

/**
 * The employee console: built from console/ when the stack is bundled (esbuild, no Docker; console-asset.ts), stored
 * in a private S3 bucket (KMS, versioned, TLS only, no ACLs, all public access blocked, retained) and served by
 * CloudFront through origin access control with its own strict Content-Security-Policy. `config.json` is generated
 * from stack values at deploy time, so the same build serves every deployment (and local mode).
 */
export class ConsoleSite extends Construct {
  readonly bucket: s3.Bucket;
  readonly key: kms.Key;
  readonly origin: cloudfront.IOrigin;
  readonly responseHeaders: cloudfront.ResponseHeadersPolicy;
  readonly contentSecurityPolicy: string;
  readonly settings: ConsoleSettings;

  constructor(scope: Construct, id: string, props: ConsoleSiteProps) {
    super(scope, id);
    const region = Stack.of(this).region;

    this.key = createRetainedKey(this, 'Key', { description: 'Cubicle: encrypts the employee console bucket' });
    // Server access logs are delivered by S3's logging service into this bucket, under this key.
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
    this.key.addToResourcePolicy(
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
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      // Object Lock without a default retention: objects can be replaced by a deploy, and a retention can
      // be put on a version under investigation. Control Tower CT.S3.PR.9.
      objectLockEnabled: true,
      serverAccessLogsPrefix: ACCESS_LOG_PREFIX,
      lifecycleRules: [
        {
          id: 'EarlierBuilds',
          noncurrentVersionExpiration: Duration.days(NONCURRENT_VERSION_DAYS),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
        { id: 'AccessLogs', prefix: ACCESS_LOG_PREFIX, expiration: Duration.days(props.logRetentionDays) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Object changes reach EventBridge (no custom resource: set on the bucket itself). Control Tower CT.S3.PR.4.
    (this.bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };

    Validations.of(this.bucket).acknowledge({
      id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
      reason:
        'The console is a build of console/ in the repository, not data: every deploy writes it again, and versioning keeps earlier builds for 90 days. A replica would add a second bucket, key and role for nothing that cannot be rebuilt.',
    });
    this.origin = origins.S3BucketOrigin.withOriginAccessControl(this.bucket, {
      originAccessLevels: [cloudfront.AccessLevel.READ],
    });
    // The key statement CDK adds names every distribution of this account (naming this one would be a
    // circular reference); the bucket policy names this distribution exactly, and CloudFront reads an
    // object only when both admit it.
    Annotations.of(this).acknowledgeWarning(
      '@aws-cdk/aws-cloudfront-origins:wildcardKeyPolicyForOac',
      'The bucket policy admits only this distribution (AWS:SourceArn); the key alone grants nothing to read.',
    );
    // CloudFront reads the console's files and nothing else in the bucket (its logs included).
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudFrontNeverReadsAccessLogs',
        effect: iam.Effect.DENY,
        principals: [new iam.ServicePrincipal('cloudfront.amazonaws.com')],
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${ACCESS_LOG_PREFIX}*`)],
      }),
    );

    this.contentSecurityPolicy = consoleContentSecurityPolicy(props.connectOrigins);
    this.responseHeaders = new cloudfront.ResponseHeadersPolicy(this, 'Headers', {
      comment: 'Cubicle: security headers and the strict CSP of the employee console',
      securityHeadersBehavior: {
        strictTransportSecurity: {
          accessControlMaxAge: Duration.seconds(HSTS_MAX_AGE_SECONDS),
          includeSubdomains: true,
          preload: true,
          override: true,
        },
        contentSecurityPolicy: { contentSecurityPolicy: this.contentSecurityPolicy, override: true },
        contentTypeOptions: { override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
      },
      customHeadersBehavior: {
        customHeaders: [{ header: 'Permissions-Policy', value: SECURITY_HEADERS.permissionsPolicy, override: true }],
      },
    });

    this.settings = { version: 1, apiUrl: '', relayUrl: '', auth: props.auth };
    this.deploy(props, region);
  }

  /**
   * Two deployments: the hashed assets first (kept forever, an open tab still finds its bundle), then the
   * pages that reference them. The deployment function's role is exact: it reads its own source zips and
   * writes only the console's keys; CDK's own grants (wildcard actions) are switched off by handing the
   * construct a role that takes no policy updates.
   */
  private deploy(props: ConsoleSiteProps, region: string): void {
    const role = new iam.Role(this, 'DeployRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Cubicle: copies the employee console into its bucket at deploy',
    });
    const frozen = role.withoutPolicyUpdates();
    const logs = new EncryptedLogGroup(this, 'DeployLogs', {
      retentionDays: props.logRetentionDays,
      purpose: 'console deployment logs',
      encryptionKey: props.logKey,
    });

    const bound = (source: s3deploy.ISource, id: string): s3deploy.ISource => {
      const config = source.bind(new Construct(this, id), { handlerRole: frozen });
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:GetObject'],
          resources: [config.bucket.arnForObjects(config.zipObjectKey)],
        }),
      );
      return { bind: () => config };
    };
    const common = {
      destinationBucket: this.bucket,
      role: frozen,
      prune: false,
      retainOnDelete: true,
      memoryLimit: 256,
      vpc: props.vpc,
      vpcSubnets: { subnets: [...props.subnets] },
      securityGroups: [props.securityGroup],
      logGroup: logs.logGroup,
      serverSideEncryption: s3deploy.ServerSideEncryption.AWS_KMS,
      serverSideEncryptionAwsKmsKeyId: this.key.keyId,
    };
    const assets = new s3deploy.BucketDeployment(this, 'Assets', {
      ...common,
      sources: [bound(consoleSource('assets'), 'AssetsSource')],
      destinationKeyPrefix: CONSOLE_ASSET_PREFIX,
      cacheControl: [s3deploy.CacheControl.fromString(ASSET_CACHE_CONTROL)],
    });
    const pages = new s3deploy.BucketDeployment(this, 'Pages', {
      ...common,
      sources: [
        bound(consoleSource('pages'), 'PagesSource'),
        bound(s3deploy.Source.jsonData('config.json', this.settings), 'ConfigSource'),
      ],
      cacheControl: [s3deploy.CacheControl.fromString(PAGE_CACHE_CONTROL)],
    });
    pages.node.addDependency(assets);

    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }));
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [
          ...CONSOLE_PAGES.map((p) => this.bucket.arnForObjects(p)),
          this.bucket.arnForObjects(`${CONSOLE_ASSET_PREFIX}*`),
        ],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logs.logGroup.logGroupArn],
      }),
    );
    // What AWSLambdaVPCAccessExecutionRole grants, inline (as for the control-plane functions).
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );
    this.acknowledge(role);
  }

  private acknowledge(role: iam.Role): void {
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only the EC2 network-interface actions Lambda performs with the execution role in a VPC (the AWSLambdaVPCAccessExecutionRole set), which take no resource scoping.',
    });
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/${CONSOLE_ASSET_PREFIX}*]`,
      reason: "The console's content-hashed assets: their names change with every build, under this one prefix.",
    });
    Validations.of(role).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason:
        "The deployment function's own exact grants, written next to the deployments they serve; they live and die with the role.",
    });
    const handler = Stack.of(this).node.children.find(
      (c) => c instanceof lambda.SingletonFunction || c.node.id.startsWith('Custom::CDKBucketDeployment'),
    );
    if (handler) {
      Validations.of(handler).acknowledge({
        id: 'AwsSolutions-L1',
        reason:
          "CDK's BucketDeployment handler pins its own Python runtime; it runs only during deploys, inside the VPC, with the exact role above.",
      });
      Validations.of(handler).acknowledge({
        id: 'NIST.800.53.R5-LambdaConcurrency',
        reason:
          "Invoked by CloudFormation twice per deploy; reserving concurrency would take from the account's unreserved pool.",
      });
      Validations.of(handler).acknowledge({
        id: 'NIST.800.53.R5-LambdaDLQ',
        reason:
          'A custom-resource handler: CloudFormation waits for its answer and fails the deploy on error, so a dead-letter queue would never receive anything.',
      });
    }
  }
}
