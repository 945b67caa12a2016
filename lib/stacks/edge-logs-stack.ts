import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';
import { EdgeAccessLogs } from '../constructs/edge-access-logs';
import { CubicleStack, CubicleStackProps } from './cubicle-stack';

export interface EdgeLogsStackProps extends CubicleStackProps {
  /** The distribution of the ControlPlane stack (referenced across regions). */
  readonly distribution: cloudfront.IDistribution;
}

/**
 * CloudFront access-log delivery, in us-east-1 (the only region where CloudFront's log delivery source
 * can be created). A stack of its own because it needs the distribution, which needs the Edge stack's
 * web ACL: in the Edge stack it would make Edge and ControlPlane depend on each other.
 */
export class EdgeLogsStack extends CubicleStack {
  readonly accessLogs: EdgeAccessLogs;

  constructor(scope: Construct, id: string, props: EdgeLogsStackProps) {
    super(scope, id, { ...props, region: 'us-east-1', crossRegionReferences: true });
    this.accessLogs = new EdgeAccessLogs(this, 'AccessLogs', {
      distribution: props.distribution,
      namePrefix: props.config.name,
      retentionDays: props.config.logs.retentionDays,
    });
  }
}
