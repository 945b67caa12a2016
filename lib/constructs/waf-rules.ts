/**
 * The rules of the edge's web ACL (EdgeStack): which AWS managed rule groups the config can switch on, in
 * what order, which of their rules only count, and the per-IP rate limit with the body it answers with.
 */
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { EdgeConfig } from '../config/schema';

/** A switch of `edge.managedRules` in the config. */
export type ManagedRuleKey = keyof EdgeConfig['managedRules'];

export interface ManagedRuleGroup {
  /** The AWS managed rule group. */
  readonly name: string;
  /** Fixed per group, so switching one group off never reorders the others. */
  readonly priority: number;
  /** Rules of the group whose Block is turned into Count, with the reason (README "Edge"). */
  readonly countOnly?: Readonly<Record<string, string>>;
}

/**
 * The managed rule groups the config can switch on, in evaluation order. The IP lists come first (cheap,
 * and a blocked address never reaches the rest), then the per-IP rate limit, then the request inspectors;
 * Bot Control is last because it is charged per request it inspects.
 */
export const MANAGED_RULE_GROUPS: Readonly<Record<ManagedRuleKey, ManagedRuleGroup>> = {
  ipReputation: { name: 'AWSManagedRulesAmazonIpReputationList', priority: 0 },
  anonymousIp: { name: 'AWSManagedRulesAnonymousIpList', priority: 1 },
  commonRuleSet: {
    name: 'AWSManagedRulesCommonRuleSet',
    priority: 3,
    countOnly: {
      SizeRestrictions_BODY:
        'blocks bodies over 8 KB; a message may hold 32,000 characters and the API enforces its own limit (413)',
      CrossSiteScripting_BODY:
        'messages are free text (code included) for an agent; the API returns JSON only and never renders HTML',
      GenericLFI_BODY: 'messages may quote paths such as ../ for an agent; no body is ever used as a file path',
      GenericRFI_BODY: 'messages may quote URLs for an agent; no body is ever fetched',
      EC2MetaDataSSRF_BODY: 'messages may mention 169.254.169.254 for an agent; no body is ever fetched',
    },
  },
  knownBadInputs: { name: 'AWSManagedRulesKnownBadInputsRuleSet', priority: 4 },
  botControl: {
    name: 'AWSManagedRulesBotControlRuleSet',
    priority: 5,
    countOnly: {
      CategoryHttpLibrary: 'employees call the API from CLIs and SDKs (HTTP libraries)',
      SignalNonBrowserUserAgent: 'employees call the API from CLIs and SDKs, not browsers',
    },
  },
};

export const RATE_LIMIT_RULE = { name: 'RateLimitPerIp', priority: 2, windowSeconds: 300 } as const;

/** The JSON bodies WAF answers with (CloudFront passes them to the viewer as they are). */
export const WAF_RESPONSE_BODIES = {
  RateLimited: JSON.stringify({ message: 'Too many requests from your address. Wait a few minutes, then try again.' }),
} as const;

export function visibility(metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty {
  return { cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName };
}

/** The web ACL's rules for a config, sorted by priority. */
export function webAclRules(edge: EdgeConfig): wafv2.CfnWebACL.RuleProperty[] {
  const managed = (Object.keys(MANAGED_RULE_GROUPS) as ManagedRuleKey[])
    .filter((key) => edge.managedRules[key])
    .map((key): wafv2.CfnWebACL.RuleProperty => {
      const group = MANAGED_RULE_GROUPS[key];
      const countOnly = Object.keys(group.countOnly ?? {});
      return {
        name: group.name,
        priority: group.priority,
        overrideAction: { none: {} },
        statement: {
          managedRuleGroupStatement: {
            vendorName: 'AWS',
            name: group.name,
            ...(key === 'botControl'
              ? { managedRuleGroupConfigs: [{ awsManagedRulesBotControlRuleSet: { inspectionLevel: 'COMMON' } }] }
              : {}),
            ...(countOnly.length > 0
              ? { ruleActionOverrides: countOnly.map((name) => ({ name, actionToUse: { count: {} } })) }
              : {}),
          },
        },
        visibilityConfig: visibility(group.name),
      };
    });
  const rateLimit: wafv2.CfnWebACL.RuleProperty = {
    name: RATE_LIMIT_RULE.name,
    priority: RATE_LIMIT_RULE.priority,
    action: { block: { customResponse: { responseCode: 429, customResponseBodyKey: 'RateLimited' } } },
    statement: {
      rateBasedStatement: {
        limit: edge.rateLimit,
        aggregateKeyType: 'IP',
        evaluationWindowSec: RATE_LIMIT_RULE.windowSeconds,
      },
    },
    visibilityConfig: visibility(RATE_LIMIT_RULE.name),
  };
  return [...managed, rateLimit].sort((a, b) => a.priority - b.priority);
}
