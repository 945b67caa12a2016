/**
 * For tests of assets hashed by their sources (lib/constructs/source-hash.ts): scratch repositories, and the assets
 * CDK bundles during a synth.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { vi } from 'vitest';

/**
 * A fresh repository in the temp dir holding `base` with `changes` applied (each is its own repository to a hash's
 * per-process memo).
 */
export function scratchRepo(base: Record<string, string>, changes: Record<string, string> = {}): string {
  const root = mkdtempSync(path.join(tmpdir(), 'cubicle-repo-'));
  for (const [file, text] of Object.entries({ ...base, ...changes })) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  }
  return root;
}

/** Runs `synth` and returns the lines CDK writes for each asset it bundles (`Bundling asset <path>...`). */
export function bundlingLines(synth: () => void): string[] {
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (String(chunk).startsWith('Bundling asset')) lines.push(String(chunk).trim());
    else return write(chunk as string, ...(rest as []));
    return true;
  });
  try {
    synth();
  } finally {
    spy.mockRestore();
  }
  return lines;
}
