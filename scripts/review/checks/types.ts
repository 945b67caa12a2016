import type { AdminResult } from '../admin';
import type { Assembly } from '../assembly';
import type { FleetModel } from '../fleet';
import type { MatrixResult } from '../matrix';
import type { ResolvedStatement } from '../policies';
import type { OwnResourceFinding } from './own-resources';

/** What every check reads: the assembly and what the review computed from it once. */
export interface ReviewContext {
  readonly assembly: Assembly;
  readonly fleet: FleetModel;
  readonly matrix: MatrixResult;
  readonly admin: AdminResult;
  readonly statements: readonly ResolvedStatement[];
  /** Every pair's policy against other pairs' resources (structural, exhaustive). */
  readonly ownResources: readonly OwnResourceFinding[];
}

export interface CheckOutcome {
  /** What the templates show, one markdown line each (counts, logical ids, exact statements). */
  readonly evidence: readonly string[];
  /** Violations; the check passes when there are none. */
  readonly findings: readonly string[];
}

export interface Check {
  /** `<area>.<what>`, stable: pipelines may gate on it. */
  readonly id: string;
  /** The claim of docs/isolation-claims.md it evidences, or the baseline. */
  readonly claim: number | 'baseline';
  /** What it verifies, one line. */
  readonly title: string;
  /**
   * Set for a part of a claim these templates are not expected to show yet: its findings are reported
   * but do not fail the review. Says why, and what makes it a gate.
   */
  readonly advisory?: string;
  run(context: ReviewContext): CheckOutcome | Promise<CheckOutcome>;
}

export const outcome = (evidence: string[], findings: string[]): CheckOutcome => ({ evidence, findings });

/** `n/m` for evidence lines. */
export const ratio = (n: number, m: number): string => `${n}/${m}`;

/** A JSON value inline in markdown. */
export const code = (value: unknown): string => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
