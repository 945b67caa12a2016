import { AdminResult, evaluateAdministrator } from './admin';
import { Assembly, readAssembly } from './assembly';
import { CHECKS } from './checks';
import { ownResourceFindings } from './checks/own-resources';
import { Check, ReviewContext } from './checks/types';
import { Claim, readClaims } from './claims';
import { complianceSection, ComplianceSection } from './compliance';
import { CostEstimate, estimateCost } from './cost';
import { coverage, CoverageResult } from './coverage';
import { diffAssemblies, DiffResult } from './diff';
import { readFleetModel } from './fleet';
import { evaluateMatrix, MatrixResult } from './matrix';
import { resolvedStatements } from './policies';

/** The security review of one assembly: every fact the markdown and the JSON report hold. */

export interface ReviewOptions {
  readonly assemblyDir: string;
  readonly againstDir?: string;
  readonly evaluationBudget?: number;
  readonly rerunControlTower?: boolean;
  /** Checks to run instead of CHECKS (tests). */
  readonly checks?: readonly Check[];
}

export type CheckStatus = 'pass' | 'fail' | 'advisory';

export interface CheckResult {
  readonly id: string;
  readonly claim: number | 'baseline';
  readonly title: string;
  readonly status: CheckStatus;
  readonly advisory?: string;
  readonly evidence: readonly string[];
  readonly findings: readonly string[];
}

export type ClaimVerdict = 'holds' | 'fails' | 'not fully shown';

export interface ClaimResult extends Claim {
  readonly verdict: ClaimVerdict;
  readonly checks: readonly CheckResult[];
}

export interface Review {
  readonly tool: string;
  readonly assembly: {
    readonly dir: string;
    readonly deployment: string;
    readonly account: string;
    readonly region: string;
    readonly stacks: readonly { readonly name: string; readonly region: string; readonly resources: number }[];
  };
  /** `pass` exits 0; `fail` exits 1 and `failing` names each claim (or baseline / compliance) that does not hold. */
  readonly verdict: 'pass' | 'fail';
  readonly failing: readonly {
    readonly claim: number | 'baseline' | 'compliance';
    readonly title: string;
    readonly checks: readonly string[];
    readonly findings: readonly string[];
  }[];
  readonly counts: Readonly<Record<string, number>>;
  readonly claims: readonly ClaimResult[];
  readonly baseline: { readonly verdict: ClaimVerdict; readonly checks: readonly CheckResult[] };
  readonly matrix: MatrixResult;
  readonly administrator: AdminResult;
  readonly compliance: ComplianceSection;
  readonly coverage: CoverageResult;
  readonly cost: CostEstimate;
  readonly diff?: DiffResult;
  readonly timings: Readonly<Record<string, number>>;
}

export async function runReview(options: ReviewOptions): Promise<Review> {
  const timings: Record<string, number> = {};
  const time = async <T>(name: string, fn: () => T | Promise<T>): Promise<T> => {
    const started = performance.now();
    const result = await fn();
    timings[name] = Math.round(performance.now() - started);
    return result;
  };
  const started = performance.now();
  const assembly = await time('read', () => readAssembly(options.assemblyDir));
  const fleet = await time('model', () => readFleetModel(assembly));
  const matrix = await time('matrix', () =>
    evaluateMatrix(assembly, fleet, { evaluationBudget: options.evaluationBudget }),
  );
  const admin = await time('administrator', () => evaluateAdministrator(assembly, fleet));
  const statements = await time('statements', () => resolvedStatements(assembly));
  const ownResources = await time('ownResources', () => ownResourceFindings(fleet));
  const context: ReviewContext = { assembly, fleet, matrix, admin, statements, ownResources };
  const results = await time('checks', () => runChecks(options.checks ?? CHECKS, context));
  const compliance = await time('compliance', () =>
    complianceSection(assembly, { rerunControlTower: options.rerunControlTower }),
  );
  const diff = options.againstDir
    ? await time('against', () => diffAssemblies(readAssembly(options.againstDir!), assembly))
    : undefined;

  const claims = readClaims().map((claim): ClaimResult => {
    const checks = results.filter((r) => r.claim === claim.number);
    return { ...claim, verdict: verdictOf(checks), checks };
  });
  const baselineChecks = results.filter((r) => r.claim === 'baseline');
  const failing: Review['failing'][number][] = [];
  for (const claim of claims) {
    const failed = claim.checks.filter((c) => c.status === 'fail');
    if (failed.length > 0)
      failing.push({
        claim: claim.number,
        title: claim.title,
        checks: failed.map((c) => c.id),
        findings: failed.flatMap((c) => c.findings),
      });
  }
  const failedBaseline = baselineChecks.filter((c) => c.status === 'fail');
  if (failedBaseline.length > 0)
    failing.push({
      claim: 'baseline',
      title: 'Least privilege',
      checks: failedBaseline.map((c) => c.id),
      findings: failedBaseline.flatMap((c) => c.findings),
    });
  if (compliance.findings.length > 0)
    failing.push({
      claim: 'compliance',
      title: 'Compliance checks',
      checks: ['compliance'],
      findings: [...compliance.findings],
    });
  const orphanClaims = results.filter((r) => typeof r.claim === 'number' && !claims.some((c) => c.number === r.claim));
  if (orphanClaims.length > 0)
    throw new Error(
      `checks cite claims missing from docs/isolation-claims.md: ${orphanClaims.map((c) => `${c.id} (claim ${c.claim})`).join(', ')}`,
    );

  timings.total = Math.round(performance.now() - started);
  return {
    tool: 'npm run review (Cubicle security review)',
    assembly: {
      dir: assembly.dir,
      deployment: assembly.deployment,
      account: assembly.account,
      region: assembly.region,
      stacks: assembly.stacks.map((s) => ({
        name: s.name,
        region: s.region,
        resources: Object.keys(s.template.Resources).length,
      })),
    },
    verdict: failing.length === 0 ? 'pass' : 'fail',
    failing,
    counts: countsOf(assembly, fleet),
    claims,
    baseline: { verdict: verdictOf(baselineChecks), checks: baselineChecks },
    matrix,
    administrator: admin,
    compliance,
    coverage: coverage(assembly),
    cost: estimateCost(assembly, fleet),
    diff,
    timings,
  };
}

async function runChecks(checks: readonly Check[], context: ReviewContext): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    let evidence: readonly string[] = [];
    let findings: readonly string[];
    try {
      ({ evidence, findings } = await check.run(context));
    } catch (error) {
      // A check that cannot read these templates cannot vouch for its claim: that is a failure, named.
      findings = [`the check could not read these templates: ${(error as Error).message}`];
    }
    const status: CheckStatus = findings.length === 0 ? 'pass' : check.advisory ? 'advisory' : 'fail';
    results.push({
      id: check.id,
      claim: check.claim,
      title: check.title,
      status,
      advisory: check.advisory,
      evidence,
      findings,
    });
  }
  return results;
}

function verdictOf(checks: readonly CheckResult[]): ClaimVerdict {
  if (checks.some((c) => c.status === 'fail')) return 'fails';
  if (checks.some((c) => c.status === 'advisory')) return 'not fully shown';
  return 'holds';
}

function countsOf(assembly: Assembly, fleet: ReturnType<typeof readFleetModel>): Record<string, number> {
  return {
    stacks: assembly.stacks.length,
    resources: assembly.resources().length,
    users: new Set(fleet.pairs.map((p) => p.userId)).size,
    pairs: fleet.pairs.length,
    taskRoles: fleet.pairs.length,
    taskDefinitions: fleet.taskDefinitions.length,
    accessPoints: fleet.accessPoints.length,
    sharedAccessPoints: shared(fleet.pairs.flatMap((p) => p.accessPoints.map((a) => a.id))),
    sharedTaskRoles: shared(fleet.taskDefinitions.map((t) => t.taskRoleArn)),
    userKeys: fleet.userKeys.length,
    userSecrets: fleet.secrets.length,
    fileSystems: fleet.fileSystems.length,
    tables: fleet.tables.length,
    roles: fleet.roles.length,
  };
}

/** How many values occur more than once. */
function shared(values: readonly string[]): number {
  const seen = new Map<string, number>();
  for (const v of values) seen.set(v, (seen.get(v) ?? 0) + 1);
  return [...seen.values()].filter((n) => n > 1).length;
}
