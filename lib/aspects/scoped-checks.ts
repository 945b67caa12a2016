import {
  CfnResource,
  CloudFormationValidatePlugin,
  IPolicyValidationContext,
  IPolicyValidationPlugin,
  IPolicyValidationPluginBeta1,
  PolicyValidationPluginReport,
} from 'aws-cdk-lib';
import { AwsSolutionsChecks, NagPack, NIST80053R5Checks } from 'cdk-nag';
import { ShapeIndex, shapeIndexFor } from './resource-shapes';

/**
 * The compliance plugins, each evaluating one representative per resource shape (resource-shapes.ts)
 * and reporting a finding on a representative on every member of its shape, so the report names every
 * resource that fails, as an unscoped run would. Each report's metadata says what was evaluated.
 */

type Report = PolicyValidationPluginReport;
type Context = IPolicyValidationContext;

function withShapes(report: Report, index: ShapeIndex): Report {
  const s = index.summary();
  return {
    ...report,
    metadata: {
      ...(report.metadata ?? {}),
      'cubicle:shapes': `${s.checkedResources} of ${s.resources} resources evaluated: ${s.groups} id scopes in ${s.shapes} shapes (${s.pinnedGroups} kept apart); every scope's canonical form expands back to its exact JSON: ${s.allRoundTrip}`,
    },
  };
}

/** cdk-nag walks the construct tree: resources of non-representative scopes are skipped, findings expanded by construct path. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- TypeScript's mixin rule: a base constructor takes any[]
function representativesOnly<T extends abstract new (...args: any[]) => NagPack>(Pack: T) {
  abstract class Scoped extends Pack {
    private index?: ShapeIndex;

    protected override checkResource(node: CfnResource): void {
      if (this.index && !this.index.isChecked(node)) return;
      (Pack.prototype as unknown as { checkResource(node: CfnResource): void }).checkResource.call(this, node);
    }

    override validate(context: Context): Report {
      const index = shapeIndexFor(context);
      this.index = index;
      try {
        const report = super.validate(context);
        const violations = report.violations.map((v) => ({
          ...v,
          violatingResources: v.violatingResources.flatMap((r) =>
            r.constructPath
              ? index.membersByConstructPath(r.constructPath).map((constructPath) => ({ ...r, constructPath }))
              : [r],
          ),
        }));
        return withShapes({ ...report, violations }, index);
      } finally {
        this.index = undefined;
      }
    }
  }
  return Scoped;
}

export class ScopedAwsSolutionsChecks extends representativesOnly(AwsSolutionsChecks) {}
export class ScopedNIST80053R5Checks extends representativesOnly(NIST80053R5Checks) {}

/** Runs a template-reading plugin on the reduced templates, then maps findings back and expands them. */
export function onReducedTemplates(context: Context, run: (reduced: Context) => Report): Report {
  const index = shapeIndexFor(context);
  const checked = index.checkedTemplates(context.templatePaths);
  const reduced: Context = {
    ...context,
    templatePaths: checked,
    stackTemplates: checked.map((p) => ({
      ...context.stackTemplates.find((s) => s.templatePath === index.originalTemplatePath(p))!,
      templatePath: p,
    })),
  };
  const report = run(reduced);
  const violations = report.violations.map((v) => ({
    ...v,
    violatingResources: v.violatingResources.flatMap((r) => {
      const templatePath = r.templatePath === undefined ? undefined : index.originalTemplatePath(r.templatePath);
      if (templatePath === undefined) return [r];
      if (!r.resourceLogicalId) return index.sameTemplates(templatePath).map((t) => ({ ...r, templatePath: t }));
      return index.membersByLogicalId(templatePath, r.resourceLogicalId).map((m) => ({
        ...r,
        templatePath: m.templatePath,
        resourceLogicalId: m.logicalId,
        ...(r.constructPath && m.constructPath ? { constructPath: m.constructPath } : {}),
      }));
    }),
  }));
  return withShapes({ ...report, violations }, index);
}

/**
 * CDK's built-in CloudFormation validator (schemas and rules, errors fail synth with
 * `@aws-cdk/core:validateAgainstDefaultRules`), on the reduced templates. Registered in place of the
 * default instance, which CDK then does not add; `CDK_VALIDATION=false` still turns it off (see
 * compliance.ts).
 */
export class ScopedCloudFormationValidate extends CloudFormationValidatePlugin {
  override validate(context: Context): Report {
    return onReducedTemplates(context, (reduced) => super.validate(reduced));
  }
}

/** A template-reading plugin (cfn-guard) on the reduced templates. */
export class OnReducedTemplates implements IPolicyValidationPlugin {
  readonly name: string;
  readonly version?: string;
  readonly ruleIds?: string[];

  constructor(private readonly plugin: IPolicyValidationPluginBeta1) {
    this.name = plugin.name;
    this.version = plugin.version;
    this.ruleIds = plugin.ruleIds;
  }

  validate(context: Context): Report {
    return onReducedTemplates(context, (reduced) => this.plugin.validate(reduced) as Report);
  }
}
