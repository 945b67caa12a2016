import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, it, inject } from 'vitest';
import { addComplianceChecks, disabledControlTowerRules } from '../../lib/aspects/compliance';
import { configWarnings } from '../../lib/config/errors';
import { parseConfigText } from '../../lib/config/load';
import { exampleConfig, minimalConfigText } from '../support/example-config';
import { ACCOUNT } from '../support/account';

interface ManifestArtifact {
  metadata?: Record<string, { type: string; data: unknown }[]>;
}

function errorAnnotations(assemblyDir: string): string[] {
  const manifest = JSON.parse(readFileSync(path.join(assemblyDir, 'manifest.json'), 'utf8'));
  return Object.values<ManifestArtifact>(manifest.artifacts).flatMap((artifact) =>
    Object.entries(artifact.metadata ?? {}).flatMap(([where, entries]) =>
      entries.filter((e) => e.type === 'aws:cdk:error').map((e) => `${where}: ${String(e.data)}`),
    ),
  );
}

describe('the example app under cdk-nag, cfn-guard and the retention guard', () => {
  const assemblyDir = inject('exampleAssemblyDir');

  it('has no unacknowledged finding in any plugin', () => {
    const report = JSON.parse(readFileSync(path.join(assemblyDir, 'validation-report.json'), 'utf8'));
    for (const plugin of report.pluginReports) {
      expect(plugin.conclusion, plugin.pluginName).toBe('success');
      const open = plugin.violations.filter((v: { acknowledgedId?: string }) => !v.acknowledgedId);
      expect(open, plugin.pluginName).toEqual([]);
      // cfn-guard findings are never acknowledged (an acknowledgement would hide the whole plugin's result).
      if (plugin.pluginName === 'cdk-validator-cfnguard') expect(plugin.violations).toEqual([]);
    }
  });

  it('has no error annotation', () => {
    expect(errorAnnotations(assemblyDir)).toEqual([]);
  });

  it('disables only the Control Tower rules it documents', () => {
    // CloudFront: one API origin, logging v2 (README "Security"); the certificate controls
    // only while no edge.domain is configured (test/stacks/edge-distribution.test.ts checks them with one).
    const cloudFront = [
      'ct-cloudfront-pr-4',
      'ct-cloudfront-pr-5',
      'ct-cloudfront-pr-6',
      'ct-cloudfront-pr-7',
      'ct-cloudfront-pr-9',
    ];
    // API Gateway V2 routes: WebSocket APIs authorize at $connect only (lib/constructs/relay.ts).
    expect(Object.keys(disabledControlTowerRules(exampleConfig()))).toEqual([
      'ct-ecs-pr-2',
      ...cloudFront,
      'ct-apigateway-pr-5',
    ]);
    const shortRetention = parseConfigText(minimalConfigText({ logs: '{ retentionDays: 14 }' }));
    expect(Object.keys(disabledControlTowerRules(shortRetention))).toEqual([
      'ct-ecs-pr-2',
      ...cloudFront,
      'ct-apigateway-pr-5',
      'ct-cloudwatch-pr-2',
    ]);
    // The warning speaks of the config, not of acknowledging an annotation.
    const app = new App();
    addComplianceChecks(app, shortRetention);
    expect(configWarnings(app)).toEqual([
      "logs.retentionDays is 14, below the 365 days Control Tower's CT.CLOUDWATCH.PR.2 requires, so synth skips that check. " +
        'If your organization enforces the control, set logs.retentionDays to 365 or more in the config; if 14 days is what you want, there is nothing to do.',
    ]);
    expect(app.node.metadata.filter((m) => m.type.startsWith('aws:cdk:'))).toEqual([]);
  });
});

describe('the same checks catch violations', () => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'cubicle-violations-'));
  const app = new App({ outdir });
  const stack = new Stack(app, 'Bad', { env: { account: ACCOUNT, region: 'eu-west-1' } });
  new logs.LogGroup(stack, 'Deletable', {
    removalPolicy: RemovalPolicy.DESTROY,
    retention: logs.RetentionDays.ONE_YEAR,
  });
  const role = new iam.Role(stack, 'Broad', { assumedBy: new iam.AccountRootPrincipal() });
  role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
  addComplianceChecks(app, exampleConfig());

  let thrown: unknown;
  try {
    app.synth();
  } catch (err) {
    thrown = err;
  }

  it('fails synth', () => {
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toContain("Acknowledge with 'AwsSolutions::AwsSolutions-IAM5[Action::s3:*]'");
  });

  it('reports cdk-nag and Control Tower findings by rule', () => {
    const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    const rules = report.pluginReports.flatMap((p: any) => p.violations.map((v: any) => v.ruleName));
    expect(rules).toEqual(
      expect.arrayContaining([
        'AwsSolutions-IAM5[Action::s3:*]',
        'NIST.800.53.R5-CloudWatchLogGroupEncrypted',
        'cloudwatch_log_group_encrypted_check',
        'iam_inline_policy_no_statements_with_full_access_check',
      ]),
    );
  });

  it('the retention guard flags the deletable log group', () => {
    const messages = stack.node
      .findAll()
      .flatMap((c) =>
        c.node.metadata.filter((m) => m.type === 'aws:cdk:error').map((m) => `${c.node.path}: ${m.data}`),
      );
    expect(messages).toEqual([
      'Bad/Deletable/Resource: AWS::Logs::LogGroup must be retained: set removalPolicy: RemovalPolicy.RETAIN (DeletionPolicy is Delete, UpdateReplacePolicy is Delete)',
    ]);
  });
});
