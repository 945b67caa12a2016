/**
 * The Fleet stacks render their cells themselves (lib/fleet/intrinsics.ts renderedApart), once each, instead of
 * CDK's three renderings. This file synthesizes the example with renderedApart doing nothing, so CDK renders every
 * cell itself, and compares each Fleet template with the global synth's (the real code) byte for byte.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, inject, it, vi } from 'vitest';
import { exampleConfig } from '../support/example-config';
import { synthesize } from '../support/synth';

vi.mock('../../lib/fleet/intrinsics', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../lib/fleet/intrinsics')>()),
  renderedApart: () => undefined,
}));

describe('Fleet cells rendered apart', () => {
  it('render every Fleet template of the example exactly as CDK renders it', () => {
    const ours = inject('exampleAssemblyDir');
    const { outdir } = synthesize(exampleConfig());
    try {
      const fleets = readdirSync(outdir).filter((file) => /-Fleet-\d+\.template\.json$/.test(file));
      expect(fleets.length).toBeGreaterThan(0);
      for (const file of fleets) {
        const cdk = readFileSync(path.join(outdir, file), 'utf8');
        // What the comparison covers: a vault and its cells, with their references, retention and tags.
        expect(cdk).toContain('"DeletionPolicy":"Retain"');
        expect(cdk).toContain('"DependsOn"');
        expect(readFileSync(path.join(ours, file), 'utf8'), file).toBe(cdk);
      }
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 120_000);
});
