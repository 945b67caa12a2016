import { Check, CheckOutcome, outcome, ReviewContext } from './types';

/** A check that reports matrix categories and fails on any unexpected result in them for this claim. */
export function matrixCheck(id: string, claim: number, categories: readonly string[], title: string): Check {
  return {
    id,
    claim,
    title,
    run({ matrix }) {
      const selected = matrix.categories.filter((c) => categories.includes(c.id));
      const evidence = selected.map(
        (c) =>
          `${c.title}: ${c.evaluations.toLocaleString('en-US')} evaluations, ${c.allowedAsExpected.toLocaleString('en-US')} Allowed and ${c.deniedAsExpected.toLocaleString('en-US')} Denied as expected`,
      );
      if (!matrix.sampling.full) evidence.push(`sampled: ${matrix.sampling.description}`);
      const findings = matrix.unexpected
        .filter((u) => categories.includes(u.category) && u.claims.includes(claim))
        .map((u) => `${u.request}: expected ${u.expected}, evaluated ${u.actual}`);
      return outcome(evidence, findings);
    },
  };
}

/** A check over the exhaustive own-resource scan, for one claim. */
export function ownResourceCheck(id: string, claim: 2 | 3 | 5 | 6, title: string): Check {
  return {
    id,
    claim,
    title,
    run({ ownResources, fleet }) {
      return outcome(
        [`${fleet.pairs.length} pairs' policies read statement by statement (no sampling)`],
        ownResources.filter((f) => f.claim === claim).map((f) => f.message),
      );
    },
  };
}

/** Rows of the administrator section that break a claim. */
export function adminFindings({ admin }: ReviewContext, claim: number): CheckOutcome {
  const rows = admin.rows.filter((r) => r.kind === 'cannot' && r.claim === claim);
  return outcome(
    rows.map((r) => `administrator cannot ${r.what}: ${r.evaluations - r.allowed}/${r.evaluations} evaluations Denied`),
    rows.flatMap((r) => r.exceptions.map((e) => `an administrator can ${r.what.replace(/ \(`.*$/, '')}: ${e}`)),
  );
}
