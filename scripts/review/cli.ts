import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { AssemblyError } from './assembly';
import { renderMarkdown, renderSummary } from './render';
import { Review, runReview } from './report';

/**
 * `npm run review [-- --assembly DIR] [--against OLD_DIR] [--out DIR] [--rerun-control-tower]`
 * Writes security-review.md, security-review.json and security-summary.md; exits 1 naming each claim
 * that does not hold, 2 on bad input (one line).
 */

const USAGE =
  'usage: npm run review -- [--assembly DIR (default cdk.out)] [--against OLD_DIR] [--out DIR (default <assembly>/review)] [--rerun-control-tower]';

export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        assembly: { type: 'string', default: 'cdk.out' },
        against: { type: 'string' },
        out: { type: 'string' },
        'rerun-control-tower': { type: 'boolean', default: false },
        'evaluation-budget': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    process.stderr.write(`review: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const budget = args['evaluation-budget'] === undefined ? undefined : Number(args['evaluation-budget']);
  if (budget !== undefined && !(Number.isInteger(budget) && budget > 0)) {
    process.stderr.write(
      `review: --evaluation-budget must be a positive whole number, not ${args['evaluation-budget']}\n`,
    );
    return 2;
  }
  const outDir = args.out ?? path.join(args.assembly!, 'review');
  let review: Review;
  try {
    review = await runReview({
      assemblyDir: args.assembly!,
      againstDir: args.against,
      evaluationBudget: budget,
      rerunControlTower: args['rerun-control-tower'],
    });
  } catch (error) {
    // One line: what is wrong with the assembly (a missing file, or a template that does not resolve).
    process.stderr.write(`review: ${(error as Error).message}\n`);
    if (!(error instanceof AssemblyError) && process.env.REVIEW_DEBUG)
      process.stderr.write(`${(error as Error).stack}\n`);
    return 2;
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'security-review.md'), renderMarkdown(review));
  writeFileSync(path.join(outDir, 'security-review.json'), `${JSON.stringify(review, null, 2)}\n`);
  writeFileSync(path.join(outDir, 'security-summary.md'), renderSummary(review));

  const m = review.matrix;
  const seconds = (review.timings.total / 1000).toFixed(1);
  process.stdout.write(
    `Security review of ${review.assembly.deployment} (${review.assembly.stacks.length} stacks, ${review.counts.pairs} pairs): ${review.verdict.toUpperCase()} in ${seconds} s; ` +
      `isolation matrix ${m.evaluations} evaluations, ${m.unexpected.length} unexpected${m.sampling.full ? '' : ` (other users' pairs sampled: ${m.sampling.othersPerPair} per pair)`}` +
      `${review.diff ? `; ${review.diff.changes.length} security-relevant changes since ${review.diff.old.dir}` : ''}\n`,
  );
  for (const f of review.failing) {
    const name = typeof f.claim === 'number' ? `claim ${f.claim} (${f.title})` : f.title;
    process.stdout.write(
      `FAIL ${name} [${f.checks.join(', ')}]: ${f.findings[0] ?? ''}${f.findings.length > 1 ? ` (+${f.findings.length - 1} more)` : ''}\n`,
    );
  }
  process.stdout.write(`Report: ${path.join(outDir, 'security-review.md')} (and .json; security-summary.md for CI)\n`);
  return review.verdict === 'pass' ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: Error) => {
      process.stderr.write(`review: ${error.stack ?? error.message}\n`);
      process.exit(3);
    },
  );
}
