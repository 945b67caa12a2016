import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = path.join(__dirname, '..', '..');
/** What lib/ may import from runtime/: the shared formats, the route registry, and the agent bundler synth runs. */
const ALLOWED = /^runtime\/(shared\/[^/]+|control-plane\/routes|agent\/build)$/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sources(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Every runtime/ module a file imports (static, type-only and re-exports), as a path from the repository root. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/\bfrom\s+'(\.[^']*)'|\bimport\(\s*'(\.[^']*)'\s*\)|require\(\s*'(\.[^']*)'\s*\)/g)]
    .map((m) =>
      path
        .relative(REPO, path.resolve(path.dirname(file), m[1] ?? m[2] ?? m[3]))
        .split(path.sep)
        .join('/'),
    )
    .filter((target) => target.startsWith('runtime/'));
}

describe('the boundary between lib/ and runtime/', () => {
  it('lib/ imports from runtime/ only runtime/shared/, the route registry and the agent bundler', () => {
    const crossings = sources(path.join(REPO, 'lib')).flatMap((file) =>
      runtimeImports(file).map((target) => `${path.relative(REPO, file)} → ${target}`),
    );
    expect(crossings.length).toBeGreaterThan(0); // the scan sees lib/'s imports at all
    expect(crossings.filter((line) => !ALLOWED.test(line.split(' → ')[1]))).toEqual([]);
  });

  it('would catch an import of handler code', () => {
    expect(ALLOWED.test('runtime/control-plane/env')).toBe(false);
    expect(ALLOWED.test('runtime/relay/env')).toBe(false);
    expect(ALLOWED.test('runtime/shared/function-contract')).toBe(true);
  });
});
