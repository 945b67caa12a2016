import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { pruneStaleTemplates, quietBundling } from '../../lib/config/cli';

describe('cdk.out after switching configs', () => {
  it('holds only the templates and asset manifests of the last synth', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'cubicle-out-'));
    for (const file of ['other-Edge.template.json', 'other-Edge.assets.json', 'notes.txt']) writeFileSync(path.join(outdir, file), '{}');
    const app = new App({ outdir });
    new CfnResource(new Stack(app, 'lumen-Edge'), 'Thing', { type: 'AWS::SNS::Topic' });
    const removed = pruneStaleTemplates(app.synth());
    expect(removed.sort()).toEqual(['other-Edge.assets.json', 'other-Edge.template.json']);
    expect(existsSync(path.join(outdir, 'lumen-Edge.template.json'))).toBe(true);
    expect(existsSync(path.join(outdir, 'lumen-Edge.assets.json'))).toBe(true);
    expect(existsSync(path.join(outdir, 'notes.txt'))).toBe(true);
  });
});

describe('quiet bundling', () => {
  it('drops CDK\'s "Bundling asset ..." lines and nothing else, until restored', () => {
    const seen: string[] = [];
    const original = process.stderr.write;
    process.stderr.write = ((chunk: string) => seen.push(chunk) > 0) as typeof process.stderr.write;
    try {
      const restore = quietBundling();
      process.stderr.write('Bundling asset acme-ControlPlane/EmployeeApi/ApiFunction/Function/Code/Stage...\n');
      process.stderr.write('a real warning\n');
      restore();
      process.stderr.write('Bundling asset X/Y...\n');
    } finally {
      process.stderr.write = original;
    }
    expect(seen).toEqual(['a real warning\n', 'Bundling asset X/Y...\n']);
  });
});
