import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLES } from '../../runtime/shared/tables';
import { disabledControlTowerRules } from '../../lib/aspects/compliance';
import { STATEFUL_TYPES } from '../../lib/aspects/retention-guard';
import { CHECKS } from '../../scripts/review/checks';
import { readClaims } from '../../scripts/review/claims';
import { renderMarkdown, renderSummary } from '../../scripts/review/render';
import { Review, runReview } from '../../scripts/review/report';
import { readTemplates } from '../../scripts/review/templates';
import { exampleConfig, REPO_ROOT } from '../support/example-config';
import { copyAssembly, exampleAssemblyDir } from './support';

/**
 * `npm run review` on the bundled example: every claim holds (claim 8's Object Lock archive
 * included), and every number in the report matches what the templates hold,
 * counted here independently of the review's code.
 */

let review: Review;
const dir = exampleAssemblyDir();
const templates = readTemplates(dir);
const resources = [...templates.values()].flatMap((t) => Object.values(t.Resources));
const ofType = (type: string) => resources.filter((r) => r.Type === type);

beforeAll(async () => {
  review = await runReview({ assemblyDir: dir, rerunControlTower: true });
});

describe('the example assembly', () => {
  it('passes', () => {
    expect(review.failing).toEqual([]);
    expect(review.verdict).toBe('pass');
    console.log(
      `review of the example, Control Tower rules re-run: ${review.timings.total} ms (${JSON.stringify(review.timings)})`,
    );
  });

  it('reports each numbered claim of docs/isolation-claims.md, quoting it, with at least one check', () => {
    const claims = readClaims();
    expect(review.claims.map((c) => [c.number, c.title])).toEqual(claims.map((c) => [c.number, c.title]));
    for (const claim of review.claims) {
      expect(claim.promise.length, `claim ${claim.number}`).toBeGreaterThan(50);
      expect(claim.checks.length, `claim ${claim.number}`).toBeGreaterThan(0);
    }
    expect(review.claims.flatMap((c) => c.checks).length + review.baseline.checks.length).toBe(CHECKS.length);
  });

  it('holds every claim, the Object Lock archive of claim 8 included, with no advisory left', () => {
    const verdicts = Object.fromEntries(review.claims.map((c) => [c.number, c.verdict]));
    expect(verdicts).toEqual({
      1: 'holds',
      2: 'holds',
      3: 'holds',
      4: 'holds',
      5: 'holds',
      6: 'holds',
      7: 'holds',
      8: 'holds',
      9: 'holds',
      10: 'holds',
      11: 'holds',
      12: 'holds',
    });
    expect(review.claims.flatMap((c) => c.checks).filter((c) => c.status === 'advisory')).toEqual([]);
    const archive = review.claims.flatMap((c) => c.checks).find((c) => c.id === 'audit.archive')!;
    expect(archive.status).toBe('pass');
    expect(archive.evidence).toEqual([
      expect.stringMatching(/^1 HMAC_256 chain key\(s\); GenerateMac allowed to 7 principal\(s\) by key policy: /),
      '1 S3 bucket(s) with Object Lock in compliance mode, default retention `{"Days":365,"Mode":"COMPLIANCE"}`; 1 stream consumer(s) writing to them',
    ]);
  });

  it('counts what the templates hold: pairs, roles, access points, user keys and secrets, none shared', () => {
    const userKeys = ofType('AWS::KMS::Key').filter((k) =>
      (k.Properties.Tags ?? []).some((t: any) => t.Key === 'user_id'),
    );
    expect(review.counts).toMatchObject({
      stacks: templates.size,
      resources: resources.length,
      users: 3,
      pairs: ofType('AWS::ECS::TaskDefinition').length,
      taskRoles: 7,
      accessPoints: ofType('AWS::EFS::AccessPoint').length,
      sharedAccessPoints: 0,
      sharedTaskRoles: 0,
      userKeys: userKeys.length,
      userSecrets: ofType('AWS::SecretsManager::Secret').length - 1, // all but the origin-verify secret
      tables: Object.keys(TABLES).length,
    });
  });

  it('evaluates the full matrix (7 pairs): every count follows from the templates, nothing unexpected', () => {
    const { matrix, counts } = review;
    const category = (id: string) => matrix.categories.find((c) => c.id === id)!;
    expect(matrix.sampling.full).toBe(true);
    expect(matrix.unexpected).toEqual([]);
    const own = 8; // (pair, secret) pairs the example's task definitions name: alice 4, bruno 1, chen 3
    expect(category('secrets')).toMatchObject({
      evaluations: counts.pairs * counts.userSecrets,
      allowedAsExpected: own,
    });
    expect(category('keys')).toMatchObject({ evaluations: counts.pairs * counts.userSecrets, allowedAsExpected: own });
    expect(category('keys-context')).toMatchObject({ evaluations: own * 3, allowedAsExpected: 0 });
    expect(category('storage')).toMatchObject({
      evaluations: counts.pairs * counts.accessPoints * 2,
      allowedAsExpected: counts.pairs * 2,
    });
    expect(category('storage-own')).toMatchObject({ evaluations: counts.pairs * 3, allowedAsExpected: 0 });
    // Other pairs' partitions: 4 row calls on each table, for each of the 6 other pairs.
    expect(category('rows')).toMatchObject({
      evaluations: counts.pairs * 6 * 4 * Object.keys(TABLES).length,
      allowedAsExpected: 0,
    });
    const roles = ofType('AWS::IAM::Role').length;
    expect(category('principals')).toMatchObject({
      evaluations: (roles - counts.pairs) * counts.userSecrets * 2,
      allowedAsExpected: 0,
    });
    expect(matrix.evaluations).toBe(matrix.categories.reduce((n, c) => n + c.evaluations, 0));
    expect(matrix.allowedAsExpected + matrix.deniedAsExpected).toBe(matrix.evaluations);
    // Task roles have no table access, not even to their own partition: every row goes through the relay.
    for (const table of Object.values(TABLES)) expect(matrix.ownRowRights[`alice/sales ${table.id}`] ?? []).toEqual([]);
  });

  it('says what an administrator cannot do (all Denied) and can do (change policies, shred keys, start tasks)', () => {
    const rows = review.administrator.rows;
    for (const row of rows.filter((r) => r.kind === 'cannot'))
      expect({ what: row.what, allowed: row.allowed }).toEqual({ what: row.what, allowed: 0 });
    expect(rows.find((r) => r.what.startsWith('read a token'))!.evaluations).toBe(review.counts.userSecrets);
    for (const row of rows.filter((r) => r.kind === 'can'))
      expect({ what: row.what, allowed: row.allowed }).toEqual({ what: row.what, allowed: row.evaluations });
  });

  it('lists the compliance checks that ran at synth, with counts, and every acknowledgement with its reason', () => {
    const plugins = review.compliance.record!.plugins;
    expect(plugins.map((p) => [p.plugin, p.kind, p.violations, p.success])).toEqual([
      ['AwsSolutions', 'cdk-nag', 0, true],
      ['NIST.800.53.R5', 'cdk-nag', 0, true],
      ['cdk-validator-cfnguard', 'control-tower', 0, true],
    ]);
    for (const p of plugins.filter((x) => x.kind === 'cdk-nag')) {
      expect(p.rules).toBeGreaterThan(50);
      expect(p.evaluations!.compliant).toBeGreaterThan(0);
      expect(p.templates).toBe(templates.size);
    }
    expect(plugins[2].disabledRules).toEqual(disabledControlTowerRules(exampleConfig()));
    expect(review.compliance.controlTowerRerun).toMatchObject({
      rules: plugins[2].rules,
      templates: templates.size,
      violations: [],
    });
    // Acknowledgements, counted from the metadata files directly.
    let count = 0;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.metadata.json'))) {
      for (const entries of Object.values<any[]>(JSON.parse(readFileSync(path.join(dir, file), 'utf8')))) {
        for (const e of entries) if (e.type === 'aws:cdk:acknowledged-rules') count += Object.keys(e.data).length;
      }
    }
    expect(review.compliance.acknowledgements).toHaveLength(count);
    expect(review.compliance.acknowledgements.every((a) => a.reason.length > 20)).toBe(true);
    const vault = review.compliance.acknowledgements.find(
      (a) => a.constructPath === '/acme-Fleet-01/UserAlice/Vault' && a.ruleId === 'Annotation::AwsSolutions-SMG4',
    )!;
    expect(vault.logicalIds.length).toBeGreaterThan(4); // the key, its alias, the secrets and their policies
  });

  it('checks retention of every stateful resource itself', () => {
    const check = review.claims[11].checks.find((c) => c.id === 'retention.stateful')!;
    const stateful = resources.filter((r) => (STATEFUL_TYPES as readonly string[]).includes(r.Type)).length;
    expect(check.evidence[0]).toContain(`${stateful} stateful resources`);
    expect(check.evidence[0]).toContain(`${stateful} retained`);
  });

  it('knows every resource type of the example (none "not covered by a claim")', () => {
    expect(review.coverage.uncovered).toEqual([]);
    expect(review.coverage.types.reduce((n, t) => n + t.count, 0)).toBe(resources.length);
  });

  it('estimates the idle cost from the resources present (dated prices, region caveat)', () => {
    const line = (item: string) => review.cost.idle.find((l) => l.item.startsWith(item));
    expect(line('NAT gateways')).toMatchObject({ quantity: ofType('AWS::EC2::NatGateway').length, monthly: 32.85 });
    expect(line('KMS keys (one per user)')).toMatchObject({ quantity: 3, monthly: 3 });
    expect(line('Secrets Manager secrets')).toMatchObject({ quantity: ofType('AWS::SecretsManager::Secret').length });
    expect(line('WAF web ACL')!.monthly).toBe(10); // $5 + 5 rules (README "Edge")
    expect(review.cost.idleMonthly).toBeCloseTo(
      review.cost.idle.reduce((n, l) => n + l.monthly, 0),
      2,
    );
    expect(review.cost.perPairIdleMonthly).toBe(0);
    expect(review.cost.perPairAwakeHour).toEqual([{ size: '1 vCPU, 2 GB, x86_64', hourly: 0.0494 }]);
    expect(review.cost.caveats[0]).toMatch(/^List prices of us-east-1 as of \d{4}-\d{2}; other regions differ/);
  });

  it('renders a report a reviewer can forward: verdict, each claim with evidence, matrix, administrator, compliance, cost', () => {
    const md = renderMarkdown(review);
    expect(md).toMatch(/^# Cubicle security review: `acme`/);
    expect(md).toContain('**PASS**');
    for (const claim of review.claims) expect(md).toContain(`### ${claim.number}. ${claim.title}: `);
    for (const heading of [
      '## The isolation matrix',
      '## What an account administrator can and cannot do',
      '## Compliance checks that ran',
      '### Acknowledgements',
      '## Monthly cost estimate',
    ]) {
      expect(md).toContain(heading);
    }
    expect(md).toContain('"kms:EncryptionContext:SecretARN"'); // the exact key policy statements
    expect(md).not.toContain(REPO_ROOT);
    expect(renderSummary(review)).toContain('| 12 | Nothing lost | holds |');
  });
});

describe('npm run review (the CLI)', () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts/review/cli.ts'), ...args], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });

  it('writes security-review.md, .json and security-summary.md and exits 0 on the example', () => {
    const assembly = copyAssembly();
    const out = mkdtempSync(path.join(tmpdir(), 'cubicle-review-out-'));
    const result = run('--assembly', assembly, '--out', out);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /^Security review of acme \(7 stacks, 7 pairs\): PASS in \d+\.\d s; isolation matrix \d+ evaluations, 0 unexpected\n/,
    );
    // The bound for the example: 30 s.
    expect(Number(/PASS in (\d+\.\d) s/.exec(result.stdout)![1])).toBeLessThan(30);
    const json = JSON.parse(readFileSync(path.join(out, 'security-review.json'), 'utf8'));
    expect(json.verdict).toBe('pass');
    expect(readFileSync(path.join(out, 'security-review.md'), 'utf8')).toContain('## Verdict');
    expect(readFileSync(path.join(out, 'security-summary.md'), 'utf8')).toContain('| 3 | Credentials |');
  });

  it('answers bad input with one line and exit 2', () => {
    const missing = run('--assembly', '/nonexistent/cdk.out');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(
      'review: no cloud assembly at /nonexistent/cdk.out: run npx cdk synth first, or pass --assembly DIR\n',
    );
    const unknown = run('--assembly', dir, '--colour');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr.split('\n')[0]).toMatch(/^review: Unknown option '--colour'/);
    const notCubicle = run('--assembly', path.join(REPO_ROOT, 'config'));
    expect(notCubicle.status).toBe(2);
    expect(notCubicle.stderr).toMatch(/^review: \S+\/config is not a cloud assembly: it has no manifest.json/);
  });
});
