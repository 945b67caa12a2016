import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../lib/app';
import { UserError } from '../../lib/config/errors';
import { ConfigError, parseConfigText } from '../../lib/config/load';
import { resolveShardPlan } from '../../lib/fleet/lock';
import { randomConfigText } from '../support/random-roster';
import { CDK_JSON_CONTEXT } from '../support/synth';

/**
 * No valid config may end in a stack trace: random rosters (test/support/random-roster.ts) either
 * synthesize or fail with a clear error (a ConfigError or another UserError: one line per problem, the
 * lines `cdk synth` prints). Seeded: a failure prints the seed and the config; `CUBICLE_FUZZ_SEED=<n>`
 * replays a run.
 */
const SEED = Number(process.env.CUBICLE_FUZZ_SEED ?? 16);

type Outcome = 'synthesized' | 'config error' | 'user error';

/** Loads and plans a config, then builds and synthesizes the whole app (bundling off, as in every synth test). */
function attempt(text: string, options: { synth: boolean; complianceChecks: boolean }): Outcome {
  try {
    const config = parseConfigText(text, 'fuzz.yaml');
    if (!options.synth) {
      resolveShardPlan(config);
      return 'synthesized';
    }
    const outdir = mkdtempSync(path.join(tmpdir(), 'cubicle-fuzz-'));
    const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    createApp(app, config, { complianceChecks: options.complianceChecks });
    app.synth();
    return 'synthesized';
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    // A clear error: lines of text naming what to change, never a stack frame.
    expect(err.message).not.toMatch(/^\s+at /m);
    expect(err.message).not.toMatch(/\$\{Token\[|\[object Object\]|undefined/);
    if (err instanceof ConfigError)
      for (const problem of err.problems) expect(problem.message.length).toBeGreaterThan(10);
    return err instanceof ConfigError ? 'config error' : 'user error';
  }
}

function run(
  numRuns: number,
  seed: number,
  options: { synth: boolean; complianceChecks: boolean },
): Record<Outcome, number> {
  const outcomes: Record<Outcome, number> = { synthesized: 0, 'config error': 0, 'user error': 0 };
  fc.assert(
    fc.property(randomConfigText, (text) => {
      outcomes[attempt(text, options)] += 1;
    }),
    // A synth per run is slow: stop at the first failure instead of shrinking it (the seed replays it).
    { numRuns, seed, endOnFailure: options.synth, verbose: true },
  );
  return outcomes;
}

describe('random valid rosters', () => {
  it('load and plan their shards, or fail with a clear error (400 rosters)', () => {
    const outcomes = run(400, SEED, { synth: false, complianceChecks: false });
    // The generator writes valid rosters: the only expected failures are users too big for a small shard.
    expect(outcomes['config error']).toBe(0);
    expect(outcomes.synthesized).toBeGreaterThan(300);
  });

  it('synthesize the whole app, or fail with a clear error (12 rosters, compliance checks off)', () => {
    const outcomes = run(12, SEED + 1, { synth: true, complianceChecks: false });
    expect(outcomes['config error']).toBe(0);
    expect(outcomes.synthesized).toBeGreaterThanOrEqual(8);
  });

  it('synthesize with every compliance check, as `cdk synth` runs them (1 roster)', () => {
    const outcomes = run(1, SEED + 2, { synth: true, complianceChecks: true });
    expect(outcomes).toEqual({ synthesized: 1, 'config error': 0, 'user error': 0 });
  });
});
