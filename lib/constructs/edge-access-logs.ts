import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { EncryptedLogGroup } from './encrypted-log-group';

export interface EdgeAccessLogsProps {
  readonly distribution: cloudfront.IDistribution;
  /** Prefix of the delivery source and destination names (unique per account and region). */
  readonly namePrefix: string;
  readonly retentionDays: number;
}

/**
 * CloudFront access logs (standard logging v2) into an encrypted, retained CloudWatch log group.
 * CloudFront's delivery source can only be created in us-east-1, so this construct must live in a
 * us-east-1 stack; the log group sits beside it.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html
 * CloudWatch Logs adds the log group's resource policy for delivery.logs.amazonaws.com when the delivery
 * is created. The record holds no request headers (so no Authorization) and no cookies.
 */
export class EdgeAccessLogs extends Construct {
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: EdgeAccessLogsProps) {
    super(scope, id);
    this.logGroup = new EncryptedLogGroup(this, 'Logs', {
      retentionDays: props.retentionDays,
      purpose: 'CloudFront access logs',
    }).logGroup;

    const source = new logs.CfnDeliverySource(this, 'Source', {
      name: `${props.namePrefix}-cloudfront-access`,
      logType: 'ACCESS_LOGS',
      resourceArn: props.distribution.distributionArn,
    });
    const destination = new logs.CfnDeliveryDestination(this, 'Destination', {
      name: `${props.namePrefix}-cloudfront-access`,
      destinationResourceArn: this.logGroup.logGroupArn,
      outputFormat: 'json',
    });
    new logs.CfnDelivery(this, 'Delivery', {
      deliverySourceName: source.ref,
      deliveryDestinationArn: destination.attrArn,
    });
  }
}
