import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMIT, MANAGED_RULE_GROUPS } from '../../lib/stacks/edge-stack';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { inject } from 'vitest';
import { exampleTemplate, exampleTemplates, resourcesOfType } from '../support/assembly';

const template = exampleTemplate('acme-Edge');

describe('edge web ACL', () => {
  it('is deployed to us-east-1 (CloudFront WAF must live there)', () => {
    const manifest = JSON.parse(readFileSync(path.join(inject('exampleAssemblyDir'), 'manifest.json'), 'utf8'));
    expect(manifest.artifacts['acme-Edge'].environment).toBe('aws://111111111111/us-east-1');
  });

  it('has scope CLOUDFRONT, AWS managed rule groups and a per-IP rate limit', () => {
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'CLOUDFRONT',
      DefaultAction: { Allow: {} },
      Rules: [
        ...MANAGED_RULE_GROUPS.map((name, priority) => ({
          Name: name,
          Priority: priority,
          OverrideAction: { None: {} },
          Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: name } },
          VisibilityConfig: Match.anyValue(),
        })),
        {
          Name: 'RateLimitPerIp',
          Priority: MANAGED_RULE_GROUPS.length,
          Action: { Block: {} },
          Statement: { RateBasedStatement: { Limit: DEFAULT_RATE_LIMIT, AggregateKeyType: 'IP' } },
          VisibilityConfig: Match.anyValue(),
        },
      ],
    });
  });

  it('logs to an encrypted aws-waf-logs- group with the Authorization header redacted', () => {
    template.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      ResourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WebAcl'), 'Arn'] },
      LogDestinationConfigs: [
        'arn:aws:logs:us-east-1:111111111111:log-group:aws-waf-logs-acme',
      ],
      RedactedFields: [{ SingleHeader: { Name: 'authorization' } }],
    });
    const groups = resourcesOfType(exampleTemplates().get('acme-Edge')!, 'AWS::Logs::LogGroup');
    expect(groups).toHaveLength(1);
    expect(groups[0][1].Properties).toMatchObject({ LogGroupName: 'aws-waf-logs-acme', RetentionInDays: 365 });
    expect(groups[0][1].Properties.KmsKeyId).toBeDefined();
  });
});
