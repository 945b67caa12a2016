import { ArnFormat } from 'aws-cdk-lib';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { visibility, WAF_RESPONSE_BODIES, webAclRules } from '../constructs/waf-rules';
import { CubicleStack, CubicleStackProps } from './cubicle-stack';

/**
 * The web ACL in front of CloudFront. WAF for CloudFront must be created in us-east-1:
 * https://docs.aws.amazon.com/waf/latest/developerguide/how-aws-waf-works-resources.html
 */
export class EdgeStack extends CubicleStack {
  readonly webAcl: wafv2.CfnWebACL;
  readonly wafLogGroupName: string;

  constructor(scope: Construct, id: string, props: CubicleStackProps) {
    super(scope, id, { ...props, region: 'us-east-1' });
    const edge = props.config.edge;

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('cubicle-edge'),
      customResponseBodies: Object.fromEntries(
        Object.entries(WAF_RESPONSE_BODIES).map(([key, content]) => [
          key,
          { contentType: 'APPLICATION_JSON', content },
        ]),
      ),
      rules: webAclRules(edge),
    });

    // WAF delivers only to log groups whose name starts with "aws-waf-logs-", given by ARN without ":*".
    // https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html
    this.wafLogGroupName = `aws-waf-logs-${props.config.name}`;
    const wafLogs = new EncryptedLogGroup(this, 'WafLogs', {
      retentionDays: props.config.logs.retentionDays,
      purpose: 'WAF logs',
      logGroupName: this.wafLogGroupName,
    });
    const logging = new wafv2.CfnLoggingConfiguration(this, 'WafLogging', {
      resourceArn: this.webAcl.attrArn,
      logDestinationConfigs: [
        this.formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: this.wafLogGroupName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      // Bearer tokens never reach the WAF logs.
      redactedFields: [{ singleHeader: { Name: 'authorization' } }],
    });
    logging.node.addDependency(wafLogs);
  }
}
