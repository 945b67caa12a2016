import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../support/example-config';

/** CI reviews every pull request's assembly against its base's and posts the result (actionlint runs in test/pipeline). */

const ci = parse(readFileSync(path.join(REPO_ROOT, '.github/workflows/ci.yml'), 'utf8'));
const job = ci.jobs.review;
const steps: {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  if?: string;
  'working-directory'?: string;
}[] = job.steps;
const runs = steps.map((s) => s.run ?? '').join('\n');

describe('ci.yml security review job', () => {
  it('reads the repository only, and checks out the base commit of the pull request beside it', () => {
    expect(job.permissions).toEqual({ contents: 'read' });
    const checkouts = steps.filter((s) => s.uses?.startsWith('actions/checkout@'));
    expect(checkouts.map((s) => s.with)).toEqual([
      { 'persist-credentials': false },
      { ref: '${{ github.event.pull_request.base.sha }}', path: 'base', 'persist-credentials': false },
    ]);
  });

  it('synthesizes both with the same config, then reviews the pull request against the base', () => {
    expect(steps.find((s) => s['working-directory'] === 'base')?.run).toBe('npm ci');
    expect(runs).toMatch(
      /npx cdk synth --quiet -c "config=\$\{CUBICLE_CONFIG\}"\n\s*cd base && npx cdk synth --quiet -c "config=\$\{CUBICLE_CONFIG\}"/,
    );
    expect(runs).toContain('npm run review -- --assembly cdk.out --against base/cdk.out --out security-review');
  });

  it('posts the summary to the job summary and uploads the full report, pass or fail', () => {
    const summary = steps.find((s) => s.run?.includes('$GITHUB_STEP_SUMMARY'))!;
    expect(summary.if).toBe('always()');
    expect(summary.run).toContain('cat security-review/security-summary.md >> "$GITHUB_STEP_SUMMARY"');
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))!;
    expect(upload.if).toBe('always()');
    expect(upload.with).toMatchObject({ name: 'security-review', path: 'security-review' });
  });

  it('is what package.json runs as npm run review', () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.review).toBe('tsx scripts/review/cli.ts');
    // The evaluator is AGPL: a devDependency of the tests and the review, never a runtime dependency.
    expect(pkg.devDependencies['@cloud-copilot/iam-simulate']).toBeDefined();
    expect(pkg.dependencies['@cloud-copilot/iam-simulate']).toBeUndefined();
  });
});

describe('the AGPL evaluator stays out of shipped code', () => {
  it('no file under lib/ or runtime/ imports @cloud-copilot/* or scripts/review', () => {
    for (const dir of ['lib', 'runtime']) {
      for (const file of readdirSync(path.join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' }).filter(
        (f) => /\.(ts|js|cjs|mjs)$/.test(f) && !f.includes('node_modules'),
      )) {
        const text = readFileSync(path.join(REPO_ROOT, dir, file), 'utf8');
        expect(text, `${dir}/${file}`).not.toMatch(/@cloud-copilot\/|scripts\/review/);
      }
    }
  });
});
