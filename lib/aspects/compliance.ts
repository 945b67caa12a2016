import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { Annotations, App, Aspects, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { CubicleConfig } from '../config/schema';
import { RetentionGuard } from './retention-guard';

/** Control Tower CT.CLOUDWATCH.PR.2 wants log groups kept at least this many days. */
export const CONTROL_TOWER_MIN_RETENTION_DAYS = 365;

/**
 * Control Tower rules that are switched off, each with the reason (also in README "Security").
 * cfn-guard findings are never acknowledged: acknowledging one makes CDK report the whole plugin as
 * passing. A rule that cannot pass is disabled here, by name, where a reviewer can see it.
 */
export function disabledControlTowerRules(config: CubicleConfig): Record<string, string> {
  const rules: Record<string, string> = {
    'ct-ecs-pr-2':
      'Container Insights is on with value "enhanced" (a superset of "enabled"); the rule only accepts "enabled".',
  };
  if (config.logs.retentionDays < CONTROL_TOWER_MIN_RETENTION_DAYS) {
    rules['ct-cloudwatch-pr-2'] =
      `logs.retentionDays is ${config.logs.retentionDays} in the config; the control wants >= ${CONTROL_TOWER_MIN_RETENTION_DAYS}.`;
  }
  return rules;
}

/**
 * Every synth runs the same checks: cdk-nag (AWS Solutions, NIST 800-53 r5), the Control Tower
 * proactive controls through cfn-guard, and the retention guard. Findings fail synth unless
 * acknowledged with a reason next to the construct.
 */
export function addComplianceChecks(app: App, config: CubicleConfig): void {
  Aspects.of(app).add(new RetentionGuard());
  const disabled = disabledControlTowerRules(config);
  if (disabled['ct-cloudwatch-pr-2']) {
    Annotations.of(app).addWarningV2('cubicle:shortLogRetention', `Control Tower CT.CLOUDWATCH.PR.2 is not checked: ${disabled['ct-cloudwatch-pr-2']}`);
  }
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app),
    new NIST80053R5Checks(app),
    new CfnGuardValidator({ disabledRules: Object.keys(disabled), maxBuffer: 64 * 1024 * 1024 }),
  );
}
