/**
 * The console's build as CDK assets (lib/constructs/console-asset.ts): hashed by its sources, built only when its
 * stack is bundled and only once per kept cdk.out, the same template either way.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { buildSync } from 'esbuild';
import { consoleBuildOptions } from '../../console/build';
import { DEFAULT_SCOPES } from '../../console/settings';
import { APP_PROPS } from '../../lib/app';
import { CONSOLE_BUILD_INPUTS, CONSOLE_SOURCE_ROOTS, consoleSourceHash } from '../../lib/constructs/console-asset';
import { ConsoleSite } from '../../lib/constructs/console-site';
import { bundlingLines, scratchRepo } from '../support/source-repo';
import { CDK_JSON_CONTEXT } from '../support/synth';

/** A repository as far as the console's hash reads it. */
const BASE: Record<string, string> = {
  'console/src/app/main.tsx': 'export {};\n',
  'console/static/index.html': '<!doctype html>\n',
  'runtime/control-plane/routes.ts': 'export const ROUTES = [];\n',
  'runtime/shared/providers.ts': 'export const PROVIDERS = [];\n',
  'console/build.ts': '// the builder\n',
  'console/settings.ts': 'export {};\n',
  'console/tsconfig.json': '{}\n',
  'tsconfig.json': '{}\n',
  'package.json': '{"name":"cubicle"}\n',
  'package-lock.json': '{"lockfileVersion":3}\n',
  'README.md': '# read me\n',
};

const repo = (changes: Record<string, string> = {}) => scratchRepo(BASE, changes);

describe("the console's source hash", () => {
  it('is the same for the same files anywhere, and differs between the two parts', () => {
    expect(consoleSourceHash('assets', repo())).toBe(consoleSourceHash('assets', repo()));
    expect(consoleSourceHash('pages', repo())).not.toBe(consoleSourceHash('assets', repo()));
  });

  it.each([
    ['a component changes', { 'console/src/app/main.tsx': 'export const x = 1;\n' }],
    ['the page template changes', { 'console/static/index.html': '<!doctype html><title>x</title>\n' }],
    ['a shared route changes', { 'runtime/control-plane/routes.ts': 'export const ROUTES = [1];\n' }],
    ['the builder changes', { 'console/build.ts': '// the builder, changed\n' }],
    ['the lockfile changes', { 'package-lock.json': '{"lockfileVersion":3,"x":1}\n' }],
  ])('changes when %s, and not with files the build never reads', (_, changes) => {
    expect(consoleSourceHash('pages', repo(changes))).not.toBe(consoleSourceHash('pages', repo()));
    expect(consoleSourceHash('pages', repo({ 'README.md': '# changed\n' }))).toBe(consoleSourceHash('pages', repo()));
  });

  it('covers every source esbuild reads for the console (outside node_modules, which the lockfile fixes)', () => {
    // The console's own options (console/build.ts), with esbuild's record of what it read.
    const { metafile } = buildSync({ ...consoleBuildOptions(), metafile: true });
    const inputs = Object.keys(metafile.inputs);
    expect(inputs).toContain('console/src/app/main.tsx');
    const hashed = (input: string) =>
      CONSOLE_SOURCE_ROOTS.some((root) => input.startsWith(`${root}/`)) ||
      (CONSOLE_BUILD_INPUTS as readonly string[]).includes(input);
    expect(inputs.filter((input) => !input.startsWith('node_modules/') && !hashed(input))).toEqual([]);
  });
});

describe('the console in a synth', () => {
  /** Synthesizes a stack holding only the console into `outdir`; returns CDK's bundling lines and the template. */
  function synthConsole(outdir: string, bundled: boolean) {
    const lines = bundlingLines(() => {
      const context = { ...CDK_JSON_CONTEXT, ...(bundled ? {} : { 'aws:cdk:bundling-stacks': [] }) };
      const app = new App({ ...APP_PROPS, outdir, context });
      const stack = new Stack(app, 'Console', { env: { account: '111111111111', region: 'eu-west-1' } });
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
      new ConsoleSite(stack, 'Site', {
        auth: {
          issuer: 'https://login.acme.example',
          clientId: 'console',
          cliClientId: 'cli',
          scopes: [...DEFAULT_SCOPES],
          bearer: 'id_token',
          logoutStyle: 'oidc',
        },
        connectOrigins: ['https://login.acme.example'],
        logRetentionDays: 30,
        vpc,
        subnets: vpc.isolatedSubnets,
        securityGroup: new ec2.SecurityGroup(stack, 'Sg', { vpc }),
        logKey: new kms.Key(stack, 'LogKey'),
      });
      app.synth();
    });
    return { lines, template: readFileSync(path.join(outdir, 'Console.template.json'), 'utf8') };
  }

  it('builds only when its stack is bundled, once per kept cdk.out, and names the same assets either way', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'cubicle-console-out-'));
    const skipped = synthConsole(mkdtempSync(path.join(tmpdir(), 'cubicle-console-out-')), false);
    expect(skipped.lines).toEqual([]);

    const first = synthConsole(outdir, true);
    expect(first.lines).toEqual([
      'Bundling asset Console/Site/AssetsSource/Asset1/Stage...',
      'Bundling asset Console/Site/PagesSource/Asset1/Stage...',
    ]);
    expect(first.template).toBe(skipped.template);

    const parts = readdirSync(outdir)
      .filter((f) => f.startsWith('asset.') && !f.endsWith('.zip'))
      .map((f) => readdirSync(path.join(outdir, f)).sort());
    expect(parts).toContainEqual(['index.html']);
    const assets = parts.find((files) => files.includes('icon.svg'))!;
    expect(assets.map((f) => f.replace(/-[A-Z0-9]{8}\./, '-HASH.'))).toEqual([
      'app-HASH.js',
      'icon.svg',
      'style-HASH.css',
    ]);

    const again = synthConsole(outdir, true);
    expect(again.lines).toEqual([]);
    expect(again.template).toBe(first.template);
  }, 60_000);
});
