import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { CubicleFunction } from '../../lib/constructs/cubicle-function';
import { HANDLER_FILE } from '../../lib/constructs/function-bundle';
import { functionSourceHash } from '../../lib/constructs/function-source-hash';
import { ROSTER_FILE_NAME } from '../../runtime/shared/function-contract';
import { APP_PROPS } from '../../lib/app';
import { bundlingLines, scratchRepo } from '../support/source-repo';

/** A repository as far as the hash reads it: a file under each source root, the lockfile and the bundler. */
const BASE: Record<string, string> = {
  'runtime/control-plane/handlers/reaper.ts': 'export const handler = () => 1;\n',
  'runtime/relay/device.ts': 'export const device = 1;\n',
  'runtime/shared/names.ts': 'export const name = "a";\n',
  'package-lock.json': '{"lockfileVersion":3}\n',
  'package.json': '{"name":"cubicle"}\n',
  'tsconfig.json': '{"compilerOptions":{}}\n',
  'lib/constructs/function-bundle.ts': '// the bundler\n',
  'README.md': '# read me\n',
};

/** A fresh copy of BASE with `changes` applied. */
const repo = (changes: Record<string, string> = {}) => scratchRepo(BASE, changes);

const ENTRY = 'runtime/control-plane/handlers/reaper.ts';
const hashOf = (root: string, entry = ENTRY, roster?: string) =>
  functionSourceHash(root, path.join(root, entry), roster);

function rosterFile(text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'cubicle-roster-')), 'roster.json');
  writeFileSync(file, text);
  return file;
}

describe("a function's source hash", () => {
  it('is the same for the same files wherever the repository is (no path of this machine goes in)', () => {
    expect(hashOf(repo())).toBe(hashOf(repo()));
    expect(hashOf(repo())).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['a source file changes', { 'runtime/shared/names.ts': 'export const name = "b";\n' }],
    ['a source file is added', { 'runtime/relay/new.ts': 'export {};\n' }],
    ['a handler changes', { 'runtime/control-plane/handlers/reaper.ts': 'export const handler = () => 2;\n' }],
    ['the lockfile changes (another package version)', { 'package-lock.json': '{"lockfileVersion":3,"x":1}\n' }],
    ['the bundler changes', { 'lib/constructs/function-bundle.ts': '// the bundler, changed\n' }],
    ['the TypeScript settings change', { 'tsconfig.json': '{"compilerOptions":{"useDefineForClassFields":false}}\n' }],
    ['the package settings change', { 'package.json': '{"name":"cubicle","type":"module"}\n' }],
  ])('changes when %s', (_, changes) => {
    expect(hashOf(repo(changes))).not.toBe(hashOf(repo()));
  });

  it('changes with the entry and with the roster bundled beside it, and not with files no bundle reads', () => {
    const root = repo();
    expect(hashOf(root, 'runtime/relay/device.ts')).not.toBe(hashOf(root));
    expect(hashOf(root, ENTRY, rosterFile('{"users":[]}'))).not.toBe(hashOf(root));
    expect(hashOf(root, ENTRY, rosterFile('{"users":[]}'))).not.toBe(
      hashOf(root, ENTRY, rosterFile('{"users":[{"id":"dana"}]}')),
    );
    expect(hashOf(root, ENTRY, rosterFile('{"users":[]}'))).toBe(hashOf(root, ENTRY, rosterFile('{"users":[]}')));
    expect(hashOf(repo({ 'README.md': '# changed\n' }))).toBe(hashOf(repo()));
  });
});

describe('a function asset in a kept cdk.out', () => {
  /** Synthesizes one stack holding the reaper's function into `outdir`, bundling on; returns CDK's bundling lines. */
  function synthReaper(outdir: string, roster?: string): string[] {
    return bundlingLines(() => {
      const app = new App({ ...APP_PROPS, outdir });
      const stack = new Stack(app, 'Functions', { env: { account: '111111111111', region: 'eu-west-1' } });
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
      new CubicleFunction(stack, 'Reaper', {
        handler: 'reaper',
        description: 'test',
        vpc,
        subnets: vpc.isolatedSubnets.length > 0 ? vpc.isolatedSubnets : vpc.privateSubnets,
        securityGroup: new ec2.SecurityGroup(stack, 'Sg', { vpc }),
        logRetentionDays: 30,
        logKey: new kms.Key(stack, 'LogKey'),
        rosterFile: roster,
      });
      app.synth();
    });
  }

  it('is bundled once: a second synth into the same folder finds it by its source hash and runs no esbuild', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'cubicle-kept-out-'));
    const roster = rosterFile('{"users":[]}');
    expect(synthReaper(outdir, roster)).toEqual(['Bundling asset Functions/Reaper/Function/Code/Stage...']);
    const assets = readdirSync(outdir).filter((f) => f.startsWith('asset.'));
    expect(assets).toHaveLength(1);
    expect(readdirSync(path.join(outdir, assets[0]))).toEqual(expect.arrayContaining([HANDLER_FILE, ROSTER_FILE_NAME]));

    expect(synthReaper(outdir, roster)).toEqual([]);
    expect(readdirSync(outdir).filter((f) => f.startsWith('asset.'))).toEqual(assets);

    // Another roster is another bundle: bundled again, beside the first.
    expect(synthReaper(outdir, rosterFile('{"users":[{"id":"dana"}]}'))).toHaveLength(1);
    expect(readdirSync(outdir).filter((f) => f.startsWith('asset.'))).toHaveLength(2);
  }, 60_000);
});
