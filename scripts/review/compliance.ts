import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ControlTowerGuard } from '../../lib/aspects/compliance';
import { COMPLIANCE_RECORD_FILE, ComplianceRecord } from '../../lib/aspects/compliance-record';
import { Acknowledgement, Assembly } from './assembly';

/**
 * The compliance checks that ran at synth (as the synth recorded them in the assembly), CloudFormation's
 * validator report, every acknowledgement with its reason, and optionally the Control Tower rules run
 * again on these templates by the review itself.
 */

export interface ComplianceSection {
  readonly record: ComplianceRecord | null;
  readonly cloudFormationValidator: {
    readonly conclusion: string;
    readonly suppressed: readonly {
      readonly rule: string;
      readonly description: string;
      readonly reason: string;
      readonly resources: number;
    }[];
  } | null;
  readonly acknowledgements: readonly Acknowledgement[];
  /** Acknowledgements grouped by rule and reason, for reading. */
  readonly grouped: readonly {
    readonly ruleId: string;
    readonly reason: string;
    readonly constructPaths: readonly string[];
    readonly resources: number;
  }[];
  readonly controlTowerRerun: {
    readonly rules: number;
    readonly templates: number;
    readonly violations: readonly string[];
    readonly millis: number;
  } | null;
  /** Failures: the record says a check failed, or the re-run found violations. */
  readonly findings: readonly string[];
  /** Warnings: e.g. no record in the assembly. */
  readonly warnings: readonly string[];
}

export function complianceSection(
  assembly: Assembly,
  options: { readonly rerunControlTower?: boolean } = {},
): ComplianceSection {
  const findings: string[] = [];
  const warnings: string[] = [];
  const recordPath = path.join(assembly.dir, COMPLIANCE_RECORD_FILE);
  const record = existsSync(recordPath) ? (JSON.parse(readFileSync(recordPath, 'utf8')) as ComplianceRecord) : null;
  if (!record) {
    warnings.push(
      `${COMPLIANCE_RECORD_FILE} is missing: this assembly was synthesized without Cubicle's compliance checks recording what ran (an older version, or not by this app's synth)`,
    );
  } else {
    for (const plugin of record.plugins)
      if (!plugin.success || plugin.violations > 0)
        findings.push(`${plugin.plugin} reported ${plugin.violations} unacknowledged violations at synth`);
  }

  let cloudFormationValidator: ComplianceSection['cloudFormationValidator'] = null;
  const reportPath = path.join(assembly.dir, 'validation-report.json');
  if (existsSync(reportPath)) {
    const report = JSON.parse(readFileSync(reportPath, 'utf8')) as { pluginReports?: any[] };
    const cfn = (report.pluginReports ?? []).find((p) => p.pluginName === 'CloudFormation Validate');
    if (cfn) {
      cloudFormationValidator = {
        conclusion: cfn.conclusion,
        suppressed: (cfn.suppressedViolations ?? []).map((v: any) => ({
          rule: v.ruleName,
          description: v.description,
          reason: v.reason,
          resources: (v.violatingConstructs ?? []).length,
        })),
      };
      if (cfn.conclusion !== 'success') findings.push(`CloudFormation's validator concluded ${cfn.conclusion}`);
    }
  }

  const acknowledgements = assembly.acknowledgements();
  const groups = new Map<string, { ruleId: string; reason: string; constructPaths: string[]; resources: number }>();
  for (const a of acknowledgements) {
    const key = `${a.ruleId}\u0000${a.reason}`;
    const group = groups.get(key) ?? { ruleId: a.ruleId, reason: a.reason, constructPaths: [], resources: 0 };
    group.constructPaths.push(a.constructPath);
    group.resources += a.logicalIds.length;
    groups.set(key, group);
  }

  let controlTowerRerun: ComplianceSection['controlTowerRerun'] = null;
  if (options.rerunControlTower) {
    const started = performance.now();
    const disabled = record?.plugins.find((p) => p.kind === 'control-tower')?.disabledRules ?? {};
    const guard = new ControlTowerGuard({ disabledRules: Object.keys(disabled), maxBuffer: 512 * 1024 * 1024 });
    const templatePaths = assembly.stacks.map((s) => path.resolve(assembly.dir, s.templateFile));
    // cfn-guard reads only the template paths of the context.
    const report = guard.validate({ templatePaths } as unknown as Parameters<ControlTowerGuard['validate']>[0]);
    const violations = report.violations.flatMap((v) =>
      v.violatingResources.map(
        (r) =>
          `${v.ruleName}: ${r.templatePath ? path.basename(r.templatePath) : ''} ${r.resourceLogicalId} (${v.description})`,
      ),
    );
    for (const v of violations) findings.push(`Control Tower (re-run on these templates): ${v}`);
    controlTowerRerun = {
      rules: guard.ruleIds?.length ?? 0,
      templates: templatePaths.length,
      violations,
      millis: Math.round(performance.now() - started),
    };
  }

  return {
    record,
    cloudFormationValidator,
    acknowledgements,
    grouped: [...groups.values()].sort((a, b) => (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0)),
    controlTowerRerun,
    findings,
    warnings,
  };
}
