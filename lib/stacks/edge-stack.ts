import { ArnFormat } from 'aws-cdk-lib';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { CubicleStack, CubicleStackProps } from './cubicle-stack';

/** Managed rule groups evaluated before the rate limit, in priority order. */
export const MANAGED_RULE_GROUPS = [
  'AWSManagedRulesAmazonIpReputationList',
  'AWSManagedRulesCommonRuleSet',
  'AWSManagedRulesKnownBadInputsRuleSet',
] as const;

/** Requests per 5 minutes per client IP before WAF blocks it. */
export const DEFAULT_RATE_LIMIT = 1000;

/**
 * The web ACL in front of CloudFront. WAF for CloudFront must be created in us-east-1:
 * https://docs.aws.amazon.com/waf/latest/developerguide/how-aws-waf-works-resources.html
 */
export class EdgeStack extends CubicleStack {
  readonly webAcl: wafv2.CfnWebACL;
  readonly wafLogGroupName: string;

  constructor(scope: Construct, id: string, props: CubicleStackProps) {
    super(scope, id, { ...props, region: 'us-east-1' });

    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName,
    });

    const managedRules: wafv2.CfnWebACL.RuleProperty[] = MANAGED_RULE_GROUPS.map((name, priority) => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name } },
      visibilityConfig: visibility(name),
    }));

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('cubicle-edge'),
      rules: [
        ...managedRules,
        {
          name: 'RateLimitPerIp',
          priority: managedRules.length,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: DEFAULT_RATE_LIMIT, aggregateKeyType: 'IP' } },
          visibilityConfig: visibility('RateLimitPerIp'),
        },
      ],
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
