import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleFunction } from '../../lib/constructs/function-bundle';
import { REPO_ROOT } from '../support/example-config';

const ENTRY = path.join(REPO_ROOT, 'runtime', 'control-plane', 'handlers', 'reaper.ts');

function filesOf(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f))]));
}

describe('a function bundle', () => {
  it('is the same bytes wherever its folder is (synth into cdk.out or `-o` elsewhere gives one asset hash)', () => {
    const shallow = mkdtempSync(path.join(tmpdir(), 'cubicle-bundle-'));
    const deep = path.join(mkdtempSync(path.join(tmpdir(), 'cubicle-bundle-')), 'a', 'b', 'c');
    bundleFunction(ENTRY, shallow, { absWorkingDir: REPO_ROOT });
    bundleFunction(ENTRY, deep, { absWorkingDir: REPO_ROOT });
    const [one, other] = [filesOf(shallow), filesOf(deep)];
    expect([...other.keys()].sort()).toEqual([...one.keys()].sort());
    for (const [name, bytes] of one)
      expect({ name, same: bytes.equals(other.get(name)!) }).toEqual({ name, same: true });

    // No source maps (Lambda would not apply them), and nothing of this machine in the code.
    expect([...one.keys()].filter((name) => name.endsWith('.map'))).toEqual([]);
    expect([...one.keys()]).toContain('index.mjs');
    for (const [, bytes] of one) expect(bytes.toString('utf8')).not.toContain(REPO_ROOT);
    for (const [, bytes] of one) expect(bytes.toString('utf8')).not.toContain(tmpdir());
  });
});
