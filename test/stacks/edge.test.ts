import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { parseConfigText } from '../../lib/config/load';
import { MANAGED_RULE_GROUPS, RATE_LIMIT_RULE, WAF_RESPONSE_BODIES, webAclRules } from '../../lib/constructs/waf-rules';
import { exampleTemplate, exampleTemplates, resourcesOfType } from '../support/assembly';
import { minimalConfigText } from '../support/example-config';

const template = exampleTemplate('acme-Edge');
const visibility = (metricName: string) => ({
  CloudWatchMetricsEnabled: true,
  SampledRequestsEnabled: true,
  MetricName: metricName,
});

/** The example's rules, exactly: what a reviewer reads in the template. */
const DEFAULT_RULES = [
  {
    Name: 'AWSManagedRulesAmazonIpReputationList',
    Priority: 0,
    OverrideAction: { None: {} },
    Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesAmazonIpReputationList' } },
    VisibilityConfig: visibility('AWSManagedRulesAmazonIpReputationList'),
  },
  {
    Name: 'AWSManagedRulesAnonymousIpList',
    Priority: 1,
    OverrideAction: { None: {} },
    Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesAnonymousIpList' } },
    VisibilityConfig: visibility('AWSManagedRulesAnonymousIpList'),
  },
  {
    Name: 'RateLimitPerIp',
    Priority: 2,
    Action: { Block: { CustomResponse: { ResponseCode: 429, CustomResponseBodyKey: 'RateLimited' } } },
    Statement: { RateBasedStatement: { Limit: 1000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } },
    VisibilityConfig: visibility('RateLimitPerIp'),
  },
  {
    Name: 'AWSManagedRulesCommonRuleSet',
    Priority: 3,
    OverrideAction: { None: {} },
    Statement: {
      ManagedRuleGroupStatement: {
        VendorName: 'AWS',
        Name: 'AWSManagedRulesCommonRuleSet',
        RuleActionOverrides: [
          'SizeRestrictions_BODY',
          'CrossSiteScripting_BODY',
          'GenericLFI_BODY',
          'GenericRFI_BODY',
          'EC2MetaDataSSRF_BODY',
        ].map((name) => ({ Name: name, ActionToUse: { Count: {} } })),
      },
    },
    VisibilityConfig: visibility('AWSManagedRulesCommonRuleSet'),
  },
  {
    Name: 'AWSManagedRulesKnownBadInputsRuleSet',
    Priority: 4,
    OverrideAction: { None: {} },
    Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesKnownBadInputsRuleSet' } },
    VisibilityConfig: visibility('AWSManagedRulesKnownBadInputsRuleSet'),
  },
];

describe('edge web ACL (example config: defaults)', () => {
  it('is deployed to us-east-1 (CloudFront WAF must live there)', () => {
    const manifest = JSON.parse(readFileSync(path.join(inject('exampleAssemblyDir'), 'manifest.json'), 'utf8'));
    expect(manifest.artifacts['acme-Edge'].environment).toBe('aws://111111111111/us-east-1');
  });

  it('has scope CLOUDFRONT, default allow, and exactly the default rules in priority order (no Bot Control)', () => {
    const [[, acl], ...more] = resourcesOfType(exampleTemplates().get('acme-Edge')!, 'AWS::WAFv2::WebACL');
    expect(more).toEqual([]);
    expect(acl.Properties.Scope).toBe('CLOUDFRONT');
    expect(acl.Properties.DefaultAction).toEqual({ Allow: {} });
    expect(acl.Properties.Rules).toEqual(DEFAULT_RULES);
  });

  it('answers the rate limit with a JSON body', () => {
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      CustomResponseBodies: {
        RateLimited: { ContentType: 'APPLICATION_JSON', Content: WAF_RESPONSE_BODIES.RateLimited },
      },
    });
    expect(JSON.parse(WAF_RESPONSE_BODIES.RateLimited)).toEqual({
      message: expect.stringMatching(/Too many requests/),
    });
  });

  it('logs to an encrypted, retained aws-waf-logs- group with the Authorization header redacted', () => {
    const [[, logging]] = resourcesOfType(exampleTemplates().get('acme-Edge')!, 'AWS::WAFv2::LoggingConfiguration');
    expect(logging.Properties).toEqual({
      ResourceArn: { 'Fn::GetAtt': [expect.stringMatching(/^WebAcl/), 'Arn'] },
      LogDestinationConfigs: ['arn:aws:logs:us-east-1:111111111111:log-group:aws-waf-logs-acme'],
      RedactedFields: [{ SingleHeader: { Name: 'authorization' } }],
    });
    const groups = resourcesOfType(exampleTemplates().get('acme-Edge')!, 'AWS::Logs::LogGroup');
    expect(groups).toHaveLength(1);
    expect(groups[0][1].Properties).toMatchObject({ LogGroupName: 'aws-waf-logs-acme', RetentionInDays: 365 });
    expect(groups[0][1].Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^WafLogsKey/), 'Arn'] });
    expect(groups[0][1].DeletionPolicy).toBe('Retain');
  });
});

describe('edge web ACL rules from the config', () => {
  const rulesFor = (edge: string) => webAclRules(parseConfigText(minimalConfigText({ edge })).edge);

  it('switches groups off without moving the others, and takes the rate limit from the config', () => {
    const rules = rulesFor('{ managedRules: { commonRuleSet: false, anonymousIp: false }, rateLimit: 250 }');
    expect(rules.map((r) => [r.name, r.priority])).toEqual([
      ['AWSManagedRulesAmazonIpReputationList', 0],
      ['RateLimitPerIp', 2],
      ['AWSManagedRulesKnownBadInputsRuleSet', 4],
    ]);
    expect(rules[1].statement).toEqual({
      rateBasedStatement: { limit: 250, aggregateKeyType: 'IP', evaluationWindowSec: 300 },
    });
  });

  it('adds Bot Control last, at the common level, with the HTTP-library rules only counting', () => {
    const rules = rulesFor('{ managedRules: { botControl: true } }');
    expect(rules.map((r) => r.priority)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rules[5]).toEqual({
      name: 'AWSManagedRulesBotControlRuleSet',
      priority: 5,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name: 'AWSManagedRulesBotControlRuleSet',
          managedRuleGroupConfigs: [{ awsManagedRulesBotControlRuleSet: { inspectionLevel: 'COMMON' } }],
          ruleActionOverrides: [
            { name: 'CategoryHttpLibrary', actionToUse: { count: {} } },
            { name: 'SignalNonBrowserUserAgent', actionToUse: { count: {} } },
          ],
        },
      },
      visibilityConfig: {
        cloudWatchMetricsEnabled: true,
        sampledRequestsEnabled: true,
        metricName: 'AWSManagedRulesBotControlRuleSet',
      },
    });
  });

  it('keeps the rate limit even with every managed group off', () => {
    const rules = rulesFor(
      '{ managedRules: { commonRuleSet: false, knownBadInputs: false, ipReputation: false, anonymousIp: false } }',
    );
    expect(rules.map((r) => r.name)).toEqual([RATE_LIMIT_RULE.name]);
  });

  it("gives every group a distinct priority, none equal to the rate limit's", () => {
    const priorities = [...Object.values(MANAGED_RULE_GROUPS).map((g) => g.priority), RATE_LIMIT_RULE.priority];
    expect(new Set(priorities).size).toBe(priorities.length);
  });
});

describe('edge config', () => {
  const parse = (edge: string) => () => parseConfigText(minimalConfigText({ edge }), 'acme.yaml');

  it('defaults: four managed groups on, Bot Control off, 1000 requests per 5 minutes, no domain', () => {
    expect(parseConfigText(minimalConfigText()).edge).toEqual({
      managedRules: {
        commonRuleSet: true,
        knownBadInputs: true,
        ipReputation: true,
        anonymousIp: true,
        botControl: false,
      },
      rateLimit: 1000,
    });
  });

  it('refuses a certificate outside us-east-1, naming its region', () => {
    expect(
      parse(
        '{ domain: { name: api.acme.example, certificateArn: "arn:aws:acm:eu-west-1:111111111111:certificate/1234abcd-12ab-34cd-56ef-1234567890ab" } }',
      ),
    ).toThrow(
      /edge\.domain\.certificateArn: certificateArn must be a certificate in us-east-1 \(CloudFront only uses ACM certificates from US East \(N\. Virginia\)\); this one is in eu-west-1/,
    );
  });

  it("refuses a malformed certificate ARN, a bad host name, and a rate limit out of WAF's range", () => {
    expect(
      parse('{ domain: { name: api.acme.example, certificateArn: "arn:aws:iam::111111111111:server-certificate/x" } }'),
    ).toThrow(/certificateArn must be an ACM certificate ARN/);
    expect(
      parse(
        '{ domain: { name: "https://api.acme.example", certificateArn: "arn:aws:acm:us-east-1:111111111111:certificate/1234abcd" } }',
      ),
    ).toThrow(/edge\.domain\.name: must be a lowercase DNS host name/);
    expect(parse('{ rateLimit: 5 }')).toThrow(/edge\.rateLimit: rateLimit must be at least 10/);
    expect(parse('{ rateLimit: 3000000000 }')).toThrow(/rateLimit must be at most 2000000000/);
    expect(parse('{ managedRules: { commonRules: true } }')).toThrow(/edge\.managedRules/);
    expect(parse('{ originSecretVersion: "not a version" }')).toThrow(
      /originSecretVersion must be a Secrets Manager version id/,
    );
  });

  it('accepts a us-east-1 certificate', () => {
    const config = parse(
      '{ domain: { name: api.acme.example, certificateArn: "arn:aws:acm:us-east-1:111111111111:certificate/1234abcd-12ab-34cd-56ef-1234567890ab" } }',
    )();
    expect(config.edge.domain).toEqual({
      name: 'api.acme.example',
      certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/1234abcd-12ab-34cd-56ef-1234567890ab',
    });
  });
});
