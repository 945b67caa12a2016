import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, IPolicyValidationContextBeta1, PolicyValidationPluginReportBeta1, Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as efs from 'aws-cdk-lib/aws-efs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, it, inject } from 'vitest';
import { ControlTowerGuard, disabledControlTowerRules } from '../../lib/aspects/compliance';
import { exampleConfig } from '../support/example-config';
import { ACCOUNT } from '../support/account';

/**
 * ControlTowerGuard runs each template with only the rule files naming a resource type it contains
 * (cfn-guard re-reads the template per rule file: a full Fleet shard took a minute with all of them).
 * It must find exactly what cfn-guard with every rule finds.
 */

const disabledRules = Object.keys(disabledControlTowerRules(exampleConfig()));
const options = { disabledRules, maxBuffer: 64 * 1024 * 1024 };

function findings(report: PolicyValidationPluginReportBeta1): string[] {
  return report.violations
    .flatMap((v) =>
      v.violatingResources.map((r) => `${v.ruleName} ${path.basename(r.templatePath)} ${r.resourceLogicalId}`),
    )
    .sort();
}

function both(templatePaths: string[]) {
  const context = { templatePaths } as unknown as IPolicyValidationContextBeta1;
  return {
    all: new CfnGuardValidator(options).validate(context),
    scoped: new ControlTowerGuard(options).validate(context),
  };
}

const templatesIn = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.template.json'))
    .map((f) => path.join(dir, f));

describe('ControlTowerGuard', () => {
  it('passes the example app exactly as cfn-guard with every rule does', () => {
    const { all, scoped } = both(templatesIn(inject('exampleAssemblyDir')));
    expect(scoped.success).toBe(true);
    expect(all.success).toBe(true);
    expect(findings(scoped)).toEqual(findings(all));
  });

  it('reports the same findings on templates that break rules of several services', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'cubicle-guard-'));
    const app = new App({ outdir });
    const stack = new Stack(app, 'Bad', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    new logs.CfnLogGroup(stack, 'Plain', { retentionInDays: 1 });
    new iam.CfnRole(stack, 'Admin', {
      assumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      },
      policies: [
        {
          policyName: 'all',
          policyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
        },
      ],
    });
    new ecs.CfnTaskDefinition(stack, 'Root', {
      containerDefinitions: [{ name: 'c', image: 'x', user: 'root', privileged: true }],
    });
    const fs = new efs.CfnFileSystem(stack, 'Open', {});
    new efs.CfnAccessPoint(stack, 'AtRoot', { fileSystemId: fs.ref });
    const other = new Stack(app, 'Fine', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    new iam.CfnRole(other, 'Narrow', {
      assumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      },
    });
    app.synth();

    const { all, scoped } = both(templatesIn(outdir));
    expect(all.success).toBe(false);
    expect(scoped.success).toBe(false);
    expect(findings(scoped)).toEqual(findings(all));
    const rules = new Set(scoped.violations.map((v) => v.ruleName));
    for (const rule of [
      'cloudwatch_log_group_encrypted_check',
      'iam_inline_policy_no_statements_with_admin_access_check',
      'ecs_task_definition_nonroot_user_check',
      'ecs_containers_nonprivileged_check',
      'ecs_containers_readonly_access_check',
      'efs_encrypted_check',
      'efs_access_point_enforce_root_directory_check',
    ]) {
      expect([...rules], rule).toContain(rule);
    }
  });
});
