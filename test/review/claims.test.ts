import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKS } from '../../scripts/review/checks';
import { readClaims } from '../../scripts/review/claims';
import { REPO_ROOT } from '../support/example-config';

/** docs/isolation-claims.md is the one place the claims live; code, tests and the review point there. */

const claims = readClaims();

describe('docs/isolation-claims.md', () => {
  it('numbers the twelve claims in order, each with a promise and where it is verified', () => {
    expect(claims.map((c) => c.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(claims.map((c) => c.title)).toEqual([
      'Compute',
      'Storage',
      'Credentials',
      'Identity',
      'Control plane data',
      'Scope',
      'Outbound',
      'Audit',
      'Lifetime',
      'Edge',
      'Pipeline',
      'Nothing lost',
    ]);
    for (const claim of claims) {
      expect(claim.promise, `claim ${claim.number}`).toMatch(/\.$/);
      expect(claim.verifiedBy, `claim ${claim.number}`).toContain('the review');
    }
  });

  it('has a check in the review for every claim, and every check cites a claim that exists', () => {
    for (const claim of claims)
      expect(CHECKS.filter((c) => c.claim === claim.number).length, `claim ${claim.number}`).toBeGreaterThan(0);
    for (const check of CHECKS)
      expect(check.claim === 'baseline' || claims.some((c) => c.number === check.claim), check.id).toBe(true);
    expect(new Set(CHECKS.map((c) => c.id)).size).toBe(CHECKS.length);
  });

  it('is what every "claim N" comment in lib/, runtime/ and test/ points to', () => {
    const files = ['lib', 'runtime', 'test'].flatMap((dir) =>
      readdirSync(path.join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts') && !f.includes('node_modules') && !f.startsWith('review/'))
        .map((f) => path.join(dir, f)),
    );
    const citing: string[] = [];
    for (const file of files) {
      readFileSync(path.join(REPO_ROOT, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const cited = /\b[Cc]laims? (\d+)/.exec(line);
          if (!cited) return;
          citing.push(file);
          expect(line, `${file}:${i + 1}`).toContain('docs/isolation-claims.md');
          expect(Number(cited[1]), `${file}:${i + 1}`).toBeLessThanOrEqual(claims.length);
        });
    }
    expect(citing.length).toBeGreaterThan(5);
  });
});
