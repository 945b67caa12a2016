import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, Aspects, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { RetentionGuard } from './retention-guard';

/**
 * Every synth runs the same checks: cdk-nag (AWS Solutions, NIST 800-53 r5), the Control Tower
 * proactive controls through cfn-guard, and the retention guard. Findings fail synth unless
 * acknowledged with a reason next to the construct; cfn-guard findings are never acknowledged
 * (acknowledging one makes CDK report the whole plugin as passing), see README "Security".
 */
export function addComplianceChecks(app: App): void {
  Aspects.of(app).add(new RetentionGuard());
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app),
    new NIST80053R5Checks(app),
    new CfnGuardValidator({ maxBuffer: 64 * 1024 * 1024 }),
  );
}
