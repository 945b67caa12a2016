import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { addComplianceChecks } from '../../lib/aspects/compliance';
import { PipelineStack } from '../../lib/stacks/pipeline-stack';
import { pipelineConfig, testApp } from './fixture';

/**
 * The Pipeline stack alone, with the same checks `cdk synth` runs on the whole app (cdk-nag AwsSolutions
 * and NIST 800-53 r5, cfn-guard Control Tower rules), so other stacks' work in progress cannot hide or
 * cause a finding here.
 */
const config = pipelineConfig({ environments: ['staging', 'production'], pullRequestDiff: true });

interface Report {
  pluginReports: { pluginName: string; conclusion: string; violations: { ruleName: string }[] }[];
}

function synthWithChecks(extra?: (stack: PipelineStack) => void): {
  app: App;
  stack: PipelineStack;
  error?: Error;
  report: Report;
} {
  const app = testApp();
  const stack = new PipelineStack(app, 'acme-Pipeline', { config });
  extra?.(stack);
  addComplianceChecks(app, config);
  let error: Error | undefined;
  try {
    app.synth();
  } catch (err) {
    error = err as Error;
  }
  const report = JSON.parse(readFileSync(path.join(app.outdir, 'validation-report.json'), 'utf8')) as Report;
  return { app, stack, error, report };
}

describe('compliance checks on the Pipeline stack', () => {
  let clean: ReturnType<typeof synthWithChecks>;
  let broken: ReturnType<typeof synthWithChecks>;
  beforeAll(() => {
    clean = synthWithChecks();
    // Control: the same stack plus a policy every rule pack rejects, to prove the checks run on it.
    broken = synthWithChecks((stack) => {
      new iam.CfnManagedPolicy(stack, 'ControlAdminPolicy', {
        policyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
      });
    });
  });

  it('passes cdk-nag and cfn-guard with no finding left', () => {
    expect(clean.error).toBeUndefined();
    expect(clean.report.pluginReports.filter((r) => r.conclusion !== 'success')).toEqual([]);
  });

  it('the same checks do fail this stack on an admin policy (cdk-nag and cfn-guard both report)', () => {
    expect(broken.error?.message).toMatch(/CT\.IAM\.PR\.2/);
    const failing = broken.report.pluginReports.filter((r) => r.conclusion === 'failure').map((r) => r.pluginName);
    expect(failing).toEqual(expect.arrayContaining(['AwsSolutions', 'cdk-validator-cfnguard']));
  });

  it('acknowledges only the parameter-path wildcard, with a reason, and never a cfn-guard rule', () => {
    const acknowledged = clean.stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.entries(m.data as Record<string, string>));
    expect(acknowledged.map(([id]) => id).sort()).toEqual([
      'Annotation::AwsSolutions-IAM5[Resource::arn:aws:ssm:eu-west-1:111111111111:parameter/acme/production/*]',
      'Annotation::AwsSolutions-IAM5[Resource::arn:aws:ssm:eu-west-1:111111111111:parameter/acme/staging/*]',
    ]);
    for (const [, reason] of acknowledged) expect(reason).toMatch(/path.*https:\/\/docs\.aws\.amazon\.com\//);
  });
});
