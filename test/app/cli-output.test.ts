import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { describe, expect, it, vi } from 'vitest';
import { pruneStaleTemplates, quietBundling, synthOrExit } from '../../lib/config/cli';
import { addConfigWarning, UserError } from '../../lib/config/errors';

/** What a function writes to stderr. */
function stderrOf(run: () => void): string[] {
  const seen: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => seen.push(String(chunk)) > 0);
  try {
    run();
  } finally {
    spy.mockRestore();
  }
  return seen;
}

describe('synthOrExit (what `cdk synth` runs)', () => {
  it('prints each config warning as one line after a successful synth', () => {
    const app = new App({ outdir: mkdtempSync(path.join(tmpdir(), 'cubicle-out-')) });
    const lines = stderrOf(() =>
      synthOrExit(app, () => {
        new CfnResource(new Stack(app, 'S'), 'Thing', { type: 'AWS::SNS::Topic' });
        addConfigWarning(app, 'logs.retentionDays is 90: set it to 365 in the config to keep the check');
      }),
    );
    expect(lines).toEqual(['Warning: logs.retentionDays is 90: set it to 365 in the config to keep the check\n']);
  });

  it('ends a problem the engineer fixes with its message alone and exit code 1, and lets a bug keep its stack', () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation(((code: number) => {
      throw new Error(`exit ${code}`);
    }) as typeof process.exit);
    try {
      const lines = stderrOf(() =>
        expect(() =>
          synthOrExit(new App(), () => {
            throw new UserError(
              'config/acme.lock.json: lock file missing; run `npx cdk synth -c config=config/acme.yaml`',
            );
          }),
        ).toThrow('exit 1'),
      );
      expect(lines).toEqual([
        'config/acme.lock.json: lock file missing; run `npx cdk synth -c config=config/acme.yaml`\n',
      ]);
      const bug = new TypeError('cannot read x of undefined');
      expect(() =>
        synthOrExit(new App(), () => {
          throw bug;
        }),
      ).toThrow(bug);
      expect(exit).toHaveBeenCalledTimes(1);
    } finally {
      exit.mockRestore();
    }
  });
});

describe('a template CloudFormation would refuse', () => {
  /** A stack whose template is about `bytes` long (one parameter value carries the bulk). */
  const stackOfSize = (app: App, name: string, bytes: number) =>
    new CfnResource(new Stack(app, name), 'Big', {
      type: 'AWS::SSM::Parameter',
      properties: { Type: 'String', Value: 'x'.repeat(bytes) },
    });

  it('ends synth with one line naming the stack and its size, and exit code 1', () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation(((code: number) => {
      throw new Error(`exit ${code}`);
    }) as typeof process.exit);
    try {
      const app = new App({ outdir: mkdtempSync(path.join(tmpdir(), 'cubicle-out-')) });
      const lines = stderrOf(() =>
        expect(() =>
          synthOrExit(app, () => {
            stackOfSize(app, 'acme-Fleet-07', 1_000_100);
            stackOfSize(app, 'acme-Fleet-08', 900_000);
          }),
        ).toThrow('exit 1'),
      );
      const size = statSync(path.join(app.outdir, 'acme-Fleet-07.template.json')).size;
      expect(size).toBeGreaterThan(1_000_000);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(`^acme-Fleet-07's template is ${size} bytes, over CloudFormation's 1000000: `),
      );
      expect(lines[0]).not.toContain('acme-Fleet-08');
      expect(lines[0]).toContain('remove agents or connections from users of that shard');
    } finally {
      exit.mockRestore();
    }
  });

  it('lets a template just under the limit through', () => {
    const app = new App({ outdir: mkdtempSync(path.join(tmpdir(), 'cubicle-out-')) });
    const lines = stderrOf(() => synthOrExit(app, () => stackOfSize(app, 'acme-Fleet-01', 999_000)));
    expect(statSync(path.join(app.outdir, 'acme-Fleet-01.template.json')).size).toBeGreaterThan(999_000);
    expect(lines).toEqual([]);
  });
});

describe('cdk.out after switching configs', () => {
  it('holds only the templates and asset manifests of the last synth', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'cubicle-out-'));
    for (const file of ['other-Edge.template.json', 'other-Edge.assets.json', 'notes.txt'])
      writeFileSync(path.join(outdir, file), '{}');
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

describe('npm test output', () => {
  it('has no AWS SDK Node-version warning (vitest.config.mts switches it off for every test process)', async () => {
    const warnings: string[] = [];
    const listener = (warning: Error) => warnings.push(warning.message);
    process.on('warning', listener);
    try {
      const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
      new DynamoDBClient({ region: 'eu-west-1' }).destroy();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', listener);
    }
    expect(warnings.filter((w) => w.includes('NodeVersionSupportWarning'))).toEqual([]);
    expect(process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBe('true');
  });
});
