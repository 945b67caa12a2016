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

    // The source maps name the repository's files by a path that holds nothing of this machine.
    const map = JSON.parse(one.get('index.mjs.map')!.toString('utf8')) as { sources: string[] };
    expect(map.sources).toContain('../../runtime/control-plane/handlers/reaper.ts');
    const everyMap = [...one].filter(([n]) => n.endsWith('.map')).map(([, b]) => b.toString('utf8'));
    for (const text of everyMap) expect(text).not.toContain(REPO_ROOT);
    for (const text of everyMap) expect(text).not.toContain(tmpdir());
  });
});
