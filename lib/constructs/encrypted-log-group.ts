import { Aws, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { createRetainedKey } from './retained-key';

export interface EncryptedLogGroupProps {
  readonly retentionDays: number;
  /** What the log group holds, for the key's description. */
  readonly purpose: string;
  /** Key to encrypt with; default: a new key (rotation on, retained) for this log group only. */
  readonly encryptionKey?: kms.IKey;
  readonly dataProtectionPolicy?: logs.DataProtectionPolicy;
  /** Physical name, only where a service requires one (WAF needs `aws-waf-logs-…`); default: generated. */
  readonly logGroupName?: string;
}

/** A retained CloudWatch log group encrypted with a customer-managed key, with a fixed retention. */
export class EncryptedLogGroup extends Construct {
  readonly logGroup: logs.LogGroup;
  readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: EncryptedLogGroupProps) {
    super(scope, id);
    this.key =
      props.encryptionKey ?? createRetainedKey(this, 'Key', { description: `Cubicle: encrypts ${props.purpose}` });
    if (!props.encryptionKey) allowLogsService(this.key as kms.Key);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.retentionDays as logs.RetentionDays,
      encryptionKey: this.key,
      removalPolicy: RemovalPolicy.RETAIN,
      dataProtectionPolicy: props.dataProtectionPolicy,
      logGroupName: props.logGroupName,
    });
  }
}

/**
 * Lets CloudWatch Logs in this region use the key for log groups of this account only.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
 */
export function allowLogsService(key: kms.Key): void {
  const region = Stack.of(key).region;
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowCloudWatchLogsOfThisAccount',
      principals: [new iam.ServicePrincipal(`logs.${region}.amazonaws.com`)],
      actions: [
        'kms:Encrypt',
        'kms:Decrypt',
        'kms:ReEncryptFrom',
        'kms:ReEncryptTo',
        'kms:GenerateDataKey',
        'kms:GenerateDataKeyWithoutPlaintext',
        'kms:DescribeKey',
      ],
      // In a key policy "*" means this key: https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${region}:${Aws.ACCOUNT_ID}:log-group:*`,
        },
      },
    }),
  );
}
