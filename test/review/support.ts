import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { inject } from 'vitest';
import type { TemplateJson } from '../../scripts/review/templates';
import { Review, runReview } from '../../scripts/review/report';

/** The example assembly the global setup synthesized once per run (with every compliance check). */
export const exampleAssemblyDir = (): string => inject('exampleAssemblyDir');

/**
 * A copy of a synthesized assembly (its JSON files; asset folders are not read by the review) in a
 * fresh temp dir, with `edit` applied to its templates: how the tests inject a defect without touching
 * the assembly other test files read.
 */
export function copyAssembly(
  edit: (templates: Map<string, TemplateJson>) => void = () => {},
  from: string = exampleAssemblyDir(),
): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cubicle-review-'));
  for (const file of readdirSync(from).filter((f) => f.endsWith('.json')))
    copyFileSync(path.join(from, file), path.join(dir, file));
  const templates = new Map(
    readdirSync(dir)
      .filter((f) => f.endsWith('.template.json'))
      .map((f) => [
        f.replace(/\.template\.json$/, ''),
        JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as TemplateJson,
      ]),
  );
  edit(templates);
  for (const [stack, template] of templates)
    writeFileSync(path.join(dir, `${stack}.template.json`), JSON.stringify(template));
  return dir;
}

/** Reviews a copy of the example with `edit` applied. */
export function reviewWith(edit: (templates: Map<string, TemplateJson>) => void): Promise<Review> {
  return runReview({ assemblyDir: copyAssembly(edit) });
}

/** The one resource of a stack whose logical id starts with `prefix` (and has the type, if given). */
export function resource(
  template: TemplateJson | undefined,
  prefix: string,
  type?: string,
): { id: string; resource: TemplateJson['Resources'][string] } {
  if (!template) throw new Error('no such stack');
  const found = Object.entries(template.Resources).filter(
    ([id, r]) => id.startsWith(prefix) && (!type || r.Type === type),
  );
  if (found.length !== 1) throw new Error(`${found.length} resources start with ${prefix}${type ? ` (${type})` : ''}`);
  return { id: found[0][0], resource: found[0][1] };
}

/** Every finding of the checks of one claim (or the baseline). */
export function findingsOf(review: Review, claim: number | 'baseline', checkId?: string): string[] {
  const checks = claim === 'baseline' ? review.baseline.checks : review.claims.find((c) => c.number === claim)!.checks;
  return checks.filter((c) => !checkId || c.id === checkId).flatMap((c) => c.findings);
}

/** Claims (and baseline / compliance) the review names as failing. */
export const failingClaims = (review: Review) => review.failing.map((f) => f.claim);
