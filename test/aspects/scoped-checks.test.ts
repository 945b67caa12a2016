import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FULL_CHECKS_CONTEXT } from '../../lib/aspects/compliance';
import { shapeIndexOf } from '../../lib/aspects/resource-shapes';
import { createApp, CubicleStacks } from '../../lib/app';
import { rosterConfig } from '../support/roster';
import { CDK_JSON_CONTEXT } from '../support/synth';

/**
 * The checks evaluate one representative per resource shape (lib/aspects/resource-shapes.ts). Here a fleet
 * of several shards has deliberately broken cells in different shards, and the same app is synthesized
 * twice: scoped (the default) and with every resource evaluated (`cubicle:fullChecks`). Every check pack
 * must catch every broken cell, name exactly those resources, and find exactly what the full run finds.
 * CDK's own template validator runs in both (CDK_VALIDATION is on for these synths).
 */

const config = rosterConfig({ users: 24, agentsPerUser: 2, maxResourcesPerShard: 120 });

interface Run {
  readonly app: App;
  readonly stacks: CubicleStacks;
  readonly findings: string[];
  readonly annotations: string[];
  readonly metadata: string[];
  /** Construct paths of the deliberately broken resources. */
  readonly broken: { role: string; secret: string; key: string; privileged: string[] };
}

function run(full: boolean): Run {
  const outdir = mkdtempSync(path.join(tmpdir(), 'cubicle-scoped-'));
  const context = {
    ...CDK_JSON_CONTEXT,
    'aws:cdk:bundling-stacks': [],
    ...(full ? { [FULL_CHECKS_CONTEXT]: true } : {}),
  };
  const app = new App({ outdir, context });
  // CDK's template validator is registered by createApp (scoped) or added by CDK (full): on for both.
  const saved = process.env.CDK_VALIDATION;
  delete process.env.CDK_VALIDATION;
  const stacks = createApp(app, config, { fleetLock: { lock: { users: {} } } });
  const last = stacks.fleets[stacks.fleets.length - 1];
  const middle = stacks.fleets[1];

  // 1. A role in the last shard gains full S3 access.
  const [roleCell] = [...last.cells.values()];
  const policies = roleCell.role.policies as { policyName: string; policyDocument: { Statement: unknown[] } }[];
  policies[0].policyDocument.Statement.push({ Sid: 'Oops', Effect: 'Allow', Action: 's3:*', Resource: '*' });
  // 2. A secret in the middle shard is no longer retained.
  const vault = [...middle.vaults.values()][2];
  const secret = [...vault.secrets.values()][0].secret;
  secret.applyRemovalPolicy(RemovalPolicy.DESTROY);
  // 3. A user key in the first shard without rotation.
  const keyVault = [...stacks.fleets[0].vaults.values()][5];
  const key = keyVault.key.node.defaultChild as kms.CfnKey;
  key.enableKeyRotation = false;
  // 4. Every "sales" agent, in every shard, runs privileged: one shape, many members.
  const privileged: string[] = [];
  for (const fleet of stacks.fleets) {
    for (const [key, cell] of fleet.cells) {
      if (!key.endsWith('#sales')) continue;
      cell.taskDefinition.addPropertyOverride('ContainerDefinitions.0.Privileged', true);
      privileged.push(cell.taskDefinition.node.path);
    }
  }

  try {
    app.synth();
  } catch {
    // Findings fail synth; the report below says which.
  } finally {
    process.env.CDK_VALIDATION = saved;
  }
  const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
  const findings: string[] = [];
  const annotations: string[] = [];
  const metadata: string[] = [];
  for (const plugin of report.pluginReports) {
    for (const [key, value] of Object.entries(plugin.metadata ?? {}))
      metadata.push(`${plugin.pluginName} ${key}: ${value}`);
    for (const v of plugin.violations) {
      if (v.acknowledgedId) continue;
      for (const r of v.violatingConstructs) {
        const where =
          r.constructPath ?? `${r.cloudFormationResource?.templatePath}#${r.cloudFormationResource?.logicalId}`;
        if (/annotation/i.test(plugin.pluginName)) annotations.push(`${v.severity} | ${v.description} | ${where}`);
        else findings.push(`${plugin.pluginName} | ${v.ruleName} | ${v.severity} | ${where}`);
      }
    }
  }
  return {
    app,
    stacks,
    findings: findings.sort(),
    annotations: annotations.sort(),
    metadata,
    broken: { role: roleCell.role.node.path, secret: secret.node.path, key: key.node.path, privileged },
  };
}

let scoped: Run;
let full: Run;
beforeAll(() => {
  scoped = run(false);
  full = run(true);
}, 600_000);
afterAll(() => shapeIndexOf(scoped.app)?.dispose());

const at = (findings: string[], where: string) =>
  findings.filter((f) => f.endsWith(`| ${where}`) || f.includes(`| ${where}/`));

describe('checks scoped to one representative per shape', () => {
  it('spans several shards and evaluates far fewer resources than the fleet holds', () => {
    expect(scoped.stacks.fleets.length).toBeGreaterThanOrEqual(3);
    const summary = shapeIndexOf(scoped.app)!.summary();
    expect(summary.groups).toBe(24);
    expect(summary.allRoundTrip).toBe(true);
    expect(summary.shapes).toBeLessThan(summary.groups);
    expect(summary.checkedResources).toBeLessThan(summary.resources);
    expect(scoped.metadata.some((m) => m.includes('cdk-validator-cfnguard cubicle:shapes'))).toBe(true);
    expect(shapeIndexOf(full.app)).toBeUndefined();
  });

  it('finds exactly what evaluating every resource finds, in every plugin (cdk-nag, NIST, Control Tower, CDK validator)', () => {
    expect(scoped.findings.length).toBeGreaterThan(0);
    expect(scoped.findings).toEqual(full.findings);
    expect(scoped.annotations).toEqual(full.annotations);
  });

  it('catches the over-broad role in the last shard (AwsSolutions, Control Tower), on that role only', () => {
    const rules = ['AwsSolutions-IAM5[Action::s3:*]', 'iam_inline_policy_no_statements_with_full_access_check'];
    for (const rule of rules) {
      expect(
        scoped.findings.filter((f) => f.includes(`| ${rule} |`)),
        rule,
      ).toEqual([expect.stringMatching(new RegExp(`\\| error \\| ${scoped.broken.role}$`))]);
    }
  });

  it('catches the unrotated key in the first shard (AwsSolutions, NIST 800-53 r5, Control Tower), on that key only', () => {
    const onKey = at(scoped.findings, scoped.broken.key).map((f) => f.split(' | ').slice(0, 2).join(' | '));
    expect(onKey).toEqual(
      expect.arrayContaining([
        'AwsSolutions | AwsSolutions-KMS5',
        'NIST.800.53.R5 | NIST.800.53.R5-KMSBackingKeyRotationEnabled',
        expect.stringMatching(/^cdk-validator-cfnguard \| kms_/),
      ]),
    );
    const rotation = scoped.findings.filter((f) => /KMS5|KMSBackingKeyRotation|kms_/.test(f));
    expect(rotation.every((f) => f.includes(scoped.broken.key))).toBe(true);
  });

  it('catches the deletable secret in the middle shard with the retention guard', () => {
    expect(scoped.annotations.filter((a) => a.includes('must be retained'))).toEqual([
      expect.stringContaining(scoped.broken.secret),
    ]);
    expect(scoped.annotations.join('\n')).toContain('AWS::SecretsManager::Secret must be retained');
  });

  it('reports a finding of a shape on every member: each privileged "sales" task definition, in every shard', () => {
    const rule = 'ecs_containers_nonprivileged_check';
    const named = scoped.findings.filter((f) => f.includes(`| ${rule} |`)).map((f) => f.split(' | ')[3]);
    expect(scoped.broken.privileged.length).toBeGreaterThan(3);
    expect(new Set(scoped.broken.privileged.map((p) => p.split('/')[0])).size).toBeGreaterThan(1);
    expect(named.sort()).toEqual([...scoped.broken.privileged].sort());
  });

  it('flags nothing outside the broken resources', () => {
    const brokenPaths = [scoped.broken.role, scoped.broken.secret, scoped.broken.key, ...scoped.broken.privileged];
    const stray = scoped.findings.filter(
      (f) => !brokenPaths.some((p) => f.includes(`| ${p}`)) && / \| error \| /.test(f),
    );
    expect(stray).toEqual([]);
  });

  it('puts a changed user in its own shape and keeps the others together', () => {
    const index = shapeIndexOf(scoped.app)!;
    expect(index.membersByConstructPath(scoped.broken.role)).toEqual([scoped.broken.role]);
    const [, sales] = scoped.broken.privileged;
    expect(index.membersByConstructPath(sales).length).toBeGreaterThan(1);
  });
});
