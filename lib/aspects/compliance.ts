import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import {
  App,
  Aspects,
  IPolicyValidationContextBeta1,
  IPolicyValidationPluginBeta1,
  PolicyValidationPluginReportBeta1,
  Validations,
} from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { addConfigWarning } from '../config/errors';
import { CubicleConfig } from '../config/schema';
import { disabledCloudFrontRules } from '../constructs/edge-distribution';
import { ComplianceRecorder } from './compliance-record';
import { DISABLED_RELAY_RULES } from '../constructs/relay';
import { RetentionGuard } from './retention-guard';
import {
  OnReducedTemplates,
  ScopedAwsSolutionsChecks,
  ScopedCloudFormationValidate,
  ScopedNIST80053R5Checks,
} from './scoped-checks';

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
    ...disabledCloudFrontRules(config.edge),
    ...DISABLED_RELAY_RULES,
  };
  if (config.logs.retentionDays < CONTROL_TOWER_MIN_RETENTION_DAYS) {
    rules['ct-cloudwatch-pr-2'] =
      `logs.retentionDays is ${config.logs.retentionDays} in the config; the control wants >= ${CONTROL_TOWER_MIN_RETENTION_DAYS}.`;
  }
  if (config.audit.trail) {
    // Only the audit trail's bucket and trail exist to be checked by these (lib/constructs/audit-trail.ts).
    rules['ct-s3-pr-2'] =
      "audit.trail is on: the trail's own bucket would log its access to another bucket that needs the same; reads of it are CloudTrail events.";
    rules['ct-cloudtrail-pr-3'] =
      'audit.trail is on: the trail delivers to S3 under Object Lock; every table data event in CloudWatch Logs would cost more than the trail, and security events reach EventBridge without it.';
  }
  return rules;
}

/** What synth says about a retention below Control Tower's minimum: what it means, and what to set. */
export function shortRetentionWarning(days: number): string {
  return (
    `logs.retentionDays is ${days}, below the ${CONTROL_TOWER_MIN_RETENTION_DAYS} days Control Tower's CT.CLOUDWATCH.PR.2 requires, so synth skips that check. ` +
    `If your organization enforces the control, set logs.retentionDays to ${CONTROL_TOWER_MIN_RETENTION_DAYS} or more in the config; if ${days} days is what you want, there is nothing to do.`
  );
}

/**
 * Every synth runs the same checks: cdk-nag (AWS Solutions, NIST 800-53 r5), the Control Tower
 * proactive controls through cfn-guard, CDK's template validator, and the retention guard. Findings fail
 * synth unless acknowledged with a reason next to the construct. The plugins evaluate one resource per
 * shape and report findings on every resource of the shape (lib/aspects/resource-shapes.ts).
 */
export function addComplianceChecks(app: App, config: CubicleConfig, options: ComplianceOptions = {}): void {
  Aspects.of(app).add(new RetentionGuard());
  const disabled = disabledControlTowerRules(config);
  if (disabled['ct-cloudwatch-pr-2']) {
    addConfigWarning(app, shortRetentionWarning(config.logs.retentionDays));
  }
  // The recorder writes what ran, with pass counts, into the assembly for `npm run review`.
  const record = new ComplianceRecorder();
  const guard = new ControlTowerGuard({ disabledRules: Object.keys(disabled), maxBuffer: 64 * 1024 * 1024 });
  const full = options.scope === 'full' || [true, 'true'].includes(app.node.tryGetContext(FULL_CHECKS_CONTEXT));
  if (full) {
    Validations.of(app).addPlugins(
      record.nag(new AwsSolutionsChecks(app)),
      record.nag(new NIST80053R5Checks(app)),
      record.controlTower(guard, disabled),
    );
    return;
  }
  Validations.of(app).addPlugins(
    record.nag(new ScopedAwsSolutionsChecks(app)),
    record.nag(new ScopedNIST80053R5Checks(app)),
    record.controlTower(new OnReducedTemplates(guard) as unknown as IPolicyValidationPluginBeta1, disabled),
  );
  // CDK's own template validator, scoped the same way; registering it keeps CDK from adding its default
  // instance, so its switches are honoured here. https://docs.aws.amazon.com/cdk/v2/guide/validation.html
  if (app._builtinCloudFormationValidation && process.env.CDK_VALIDATION !== 'false') {
    Validations.of(app).addPlugins(new ScopedCloudFormationValidate());
  }
}

/** Context key (`-c cubicle:fullChecks=true`): evaluate every resource, not one per shape. */
export const FULL_CHECKS_CONTEXT = 'cubicle:fullChecks';

export interface ComplianceOptions {
  /**
   * 'shapes': each check evaluates one representative per resource shape (lib/aspects/resource-shapes.ts)
   * and reports its findings on every member; 'full': every resource.
   * @default 'shapes', or 'full' with the context `cubicle:fullChecks=true`
   */
  readonly scope?: 'shapes' | 'full';
}

/**
 * The Control Tower rules through cfn-guard, each template checked only with the rule files that select
 * a resource type it contains. cfn-guard re-reads a template for every rule file (about 0.5 ms per KB),
 * so all ~240 files on a 450-resource Fleet shard took about a minute. Every Control Tower rule selects
 * `Resources.*[ Type == ... ]` and passes `when` none is found, so a file whose selected types are all
 * absent finds nothing: the findings are the same (test/fleet/control-tower-guard.test.ts compares them
 * with the full rule set). A file whose selection cannot be read runs on every template that mentions
 * any of its types. Reported under cfn-guard's own plugin name.
 */
export class ControlTowerGuard implements IPolicyValidationPluginBeta1 {
  readonly name: string;
  readonly version?: string;
  readonly ruleIds?: string[];
  private readonly rules: { readonly file: string; readonly types: ReadonlySet<string> }[];

  constructor(private readonly props: { readonly disabledRules: string[]; readonly maxBuffer: number }) {
    const all = new CfnGuardValidator(props);
    this.name = all.name;
    this.version = all.version;
    this.ruleIds = all.ruleIds;
    const root = path.join(
      path.dirname(require.resolve('@cdklabs/cdk-validator-cfnguard')),
      '..',
      'rules',
      'control-tower',
      'cfn-guard',
    );
    this.rules = readdirSync(root, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.guard') && !props.disabledRules.includes(path.parse(file).name))
      .sort()
      .map((file) => {
        const text = readFileSync(path.join(root, file), 'utf8');
        return { file: path.join(root, file), types: selectedTypes(text) };
      });
  }

  validate(context: IPolicyValidationContextBeta1): PolicyValidationPluginReportBeta1 {
    const byRules = new Map<string, string[]>();
    for (const templatePath of context.templatePaths) {
      const resources = JSON.parse(readFileSync(templatePath, 'utf8')).Resources ?? {};
      const types = new Set(Object.values<{ Type: string }>(resources).map((r) => r.Type));
      const files = this.rules
        .filter((r) => r.types.size === 0 || [...r.types].some((t) => types.has(t)))
        .map((r) => r.file);
      if (files.length === 0) continue;
      const key = files.join('\n');
      byRules.set(key, [...(byRules.get(key) ?? []), templatePath]);
    }
    const reports = [...byRules].map(([files, templatePaths]) =>
      new CfnGuardValidator({
        controlTowerRulesEnabled: false,
        rules: files.split('\n'),
        maxBuffer: this.props.maxBuffer,
      }).validate({ ...context, templatePaths }),
    );
    return { success: reports.every((r) => r.success), violations: reports.flatMap((r) => r.violations) };
  }
}

const TYPE_NAME = /AWS::[A-Za-z0-9]+::[A-Za-z0-9]+/g;

/** The resource types a guard rule file selects (`Resources.*[ Type == %X ]`), or else every type it names. */
function selectedTypes(rule: string): ReadonlySet<string> {
  const variables = new Map(
    [...rule.matchAll(/let\s+([A-Za-z0-9_]+)\s*=\s*"(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)"/g)].map((m) => [m[1], m[2]]),
  );
  const selected = new Set<string>();
  for (const [, selection] of rule.matchAll(/Resources\.\*\[\s*Type\s*(?:==|in)\s*([^\]]+\]?)/g)) {
    for (const name of selection.match(TYPE_NAME) ?? []) selected.add(name);
    for (const [, variable] of selection.matchAll(/%([A-Za-z0-9_]+)/g)) {
      const type = variables.get(variable);
      if (type) selected.add(type);
    }
  }
  return selected.size > 0 ? selected : new Set(rule.match(TYPE_NAME) ?? []);
}
