import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  CfnResource,
  IPolicyValidationContextBeta1,
  IPolicyValidationPluginBeta1,
  PolicyValidationPluginReportBeta1,
} from 'aws-cdk-lib';
import { NagPack, NagRuleCompliance } from 'cdk-nag';

/**
 * What the compliance checks did during synth, written into the cloud assembly (`cubicle-compliance.json`)
 * so that `npm run review` can report the checks that ran and their pass counts. CDK's own
 * validation-report.json lists only plugins with findings or suppressions, so a clean run of cdk-nag or
 * of the Control Tower rules would otherwise leave no trace. Counts only: no paths, no dates.
 */
export const COMPLIANCE_RECORD_FILE = 'cubicle-compliance.json';

export interface CompliancePluginRecord {
  readonly plugin: string;
  readonly version?: string;
  readonly kind: 'cdk-nag' | 'control-tower';
  readonly success: boolean;
  /** Rules that ran (cdk-nag: distinct rule ids applied; Control Tower: enabled rule files). */
  readonly rules: number;
  /** cdk-nag only: rule evaluations per result (a rule applied to one resource is one evaluation). */
  readonly evaluations?: {
    readonly compliant: number;
    readonly nonCompliant: number;
    readonly notApplicable: number;
    readonly errors: number;
  };
  readonly templates: number;
  /** Unacknowledged violations (resources), which fail synth. */
  readonly violations: number;
  /** Control Tower rules switched off, with the reason (lib/aspects/compliance.ts). */
  readonly disabledRules?: Readonly<Record<string, string>>;
}

export interface ComplianceRecord {
  readonly version: 1;
  readonly plugins: readonly CompliancePluginRecord[];
}

export class ComplianceRecorder {
  private readonly records = new Map<string, CompliancePluginRecord>();

  /** cdk-nag pack that also counts each rule evaluation by result. */
  nag(pack: NagPack): IPolicyValidationPluginBeta1 {
    const tally = { compliant: 0, nonCompliant: 0, notApplicable: 0, errors: 0 };
    const rules = new Set<string>();
    const inner = pack as unknown as {
      applyRule(params: { rule: (node: CfnResource) => unknown; ruleSuffixOverride?: string }): void;
    };
    const applyRule = inner.applyRule.bind(pack);
    inner.applyRule = (params) => {
      const rule = params.rule;
      const counted = (node: CfnResource) => {
        let result: unknown;
        try {
          result = rule(node);
        } catch (error) {
          tally.errors += 1;
          throw error;
        }
        if (result === NagRuleCompliance.COMPLIANT) tally.compliant += 1;
        else if (result === NagRuleCompliance.NOT_APPLICABLE) tally.notApplicable += 1;
        else if (Array.isArray(result) && result.length > 0) tally.nonCompliant += result.length;
        else if (Array.isArray(result)) tally.compliant += 1;
        else tally.nonCompliant += 1;
        return result;
      };
      // cdk-nag names a finding after the rule function: keep the name.
      Object.defineProperty(counted, 'name', { value: rule.name });
      rules.add(params.ruleSuffixOverride ?? rule.name);
      applyRule({ ...params, rule: counted });
    };
    // cdk-nag 3 implements the stable IPolicyValidationPlugin, which CDK accepts where the Beta1 type is named.
    return this.wrap(pack as unknown as IPolicyValidationPluginBeta1, (report, context) => ({
      plugin: pack.name,
      kind: 'cdk-nag',
      success: report.success,
      rules: rules.size,
      evaluations: { ...tally },
      templates: context.templatePaths.length,
      violations: countViolations(report),
    }));
  }

  /** The Control Tower rules through cfn-guard, with the rules switched off and why. */
  controlTower(
    plugin: IPolicyValidationPluginBeta1,
    disabledRules: Readonly<Record<string, string>>,
  ): IPolicyValidationPluginBeta1 {
    return this.wrap(plugin, (report, context) => ({
      plugin: plugin.name,
      version: plugin.version,
      kind: 'control-tower',
      success: report.success,
      rules: plugin.ruleIds?.length ?? 0,
      templates: context.templatePaths.length,
      violations: countViolations(report),
      disabledRules: Object.fromEntries(Object.entries(disabledRules).sort(([a], [b]) => (a < b ? -1 : 1))),
    }));
  }

  private wrap(
    plugin: IPolicyValidationPluginBeta1,
    record: (
      report: PolicyValidationPluginReportBeta1,
      context: IPolicyValidationContextBeta1,
    ) => CompliancePluginRecord,
  ): IPolicyValidationPluginBeta1 {
    return {
      name: plugin.name,
      version: plugin.version,
      ruleIds: plugin.ruleIds,
      validate: (context) => {
        const report = plugin.validate(context);
        this.records.set(plugin.name, record(report, context));
        if (context.templatePaths.length > 0) this.write(path.dirname(context.templatePaths[0]));
        return report;
      },
    };
  }

  private write(outdir: string): void {
    const plugins = [...this.records.values()].sort((a, b) => (a.plugin < b.plugin ? -1 : 1));
    const record: ComplianceRecord = { version: 1, plugins };
    writeFileSync(path.join(outdir, COMPLIANCE_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
  }
}

function countViolations(report: PolicyValidationPluginReportBeta1): number {
  return report.violations.reduce((n, v) => n + Math.max(1, v.violatingResources.length), 0);
}
