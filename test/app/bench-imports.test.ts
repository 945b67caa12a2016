/**
 * The benches (scripts/bench-*.ts) run outside Vitest but start the tests' stand-ins. Every test module they
 * import must load in plain Node: one that reaches Vitest (`inject`, `expect`) fails at import, as the
 * write guard once made `npm run bench:runtime` and `bench:relay` do.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = path.join(__dirname, '..', '..');
const SCRIPTS = path.join(REPO, 'scripts');
const benches = readdirSync(SCRIPTS).filter((f) => /^bench-.*\.ts$/.test(f));
const testImports = [
  ...new Set(
    benches.flatMap((file) =>
      [...readFileSync(path.join(SCRIPTS, file), 'utf8').matchAll(/from '\.\.\/(test\/[^']+)'/g)].map((m) => m[1]),
    ),
  ),
].sort();

describe('the test modules the benches import', () => {
  it('are found (the list below is not empty by accident)', () => {
    expect(testImports).toContain('test/support/dynamo');
    expect(testImports).toContain('test/runtime/relay/support/relay-env');
  });

  it('load in plain Node, outside Vitest', () => {
    const env = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith('VITEST')) delete env[key];
    const script = testImports.map((m) => `require(${JSON.stringify(`./${m}.ts`)});`).join('\n');
    const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: REPO,
      env,
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(result.stderr.split('\n').filter((l) => /Error/.test(l))).toEqual([]);
    expect(result.status).toBe(0);
  });
});
