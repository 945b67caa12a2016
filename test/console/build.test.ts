/**
 * The console build that synth uses: one directory per distinct build, so repeated synths (every test run,
 * every `cdk synth`) do not leave a copy each in the temp dir.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsoleShared } from '../../console/build';

let temp: string;
let saved: string | undefined;
beforeAll(() => {
  saved = process.env.TMPDIR;
  temp = mkdtempSync(path.join(tmpdir(), 'cubicle-console-build-'));
  process.env.TMPDIR = temp;
});
afterAll(() => {
  process.env.TMPDIR = saved;
  rmSync(temp, { recursive: true, force: true });
});

describe('buildConsoleShared', () => {
  it('puts two builds of the same sources in one directory and leaves no scratch directory behind', () => {
    const first = buildConsoleShared();
    const second = buildConsoleShared();
    expect(second.dir).toBe(first.dir);
    expect(second.files).toEqual(first.files);
    expect(readdirSync(temp)).toEqual(['cubicle-console']);
    expect(readdirSync(path.join(temp, 'cubicle-console'))).toEqual([path.basename(first.dir)]);
    expect(readdirSync(first.dir).sort()).toEqual(['assets', 'index.html']);
  });
});
