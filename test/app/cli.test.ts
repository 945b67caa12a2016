import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/example-config';

/** Runs the real CDK CLI as a user would, without AWS credentials or a profile. */
function cdkSynth(args: string[]) {
  const home = mkdtempSync(path.join(tmpdir(), 'cubicle-home-'));
  const out = mkdtempSync(path.join(tmpdir(), 'cubicle-cli-out-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    CI: 'true',
    AWS_EC2_METADATA_DISABLED: 'true',
    CDK_VALIDATION: 'false',
  };
  const result = spawnSync(
    path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk'),
    ['synth', '-q', '--output', out, ...args],
    {
      cwd: REPO_ROOT,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  return { ...result, out };
}

describe('npx cdk synth', () => {
  it("synthesizes the bundled example offline with no AWS credentials, printing nothing but the CLI's summary", () => {
    const result = cdkSynth([]);
    expect(result.stderr).not.toMatch(/credentials|Unable to resolve AWS account/i);
    expect(result.status).toBe(0);
    // No "Bundling asset ..." lines, esbuild size tables, warnings or SDK notices: with CI=true the CLI's
    // own two-line summary goes to stdout, and that is all.
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual([
      `Successfully synthesized to ${result.out}`,
      expect.stringMatching(/^Supply a stack id \(acme-Edge, .*\) to display its template\.$/),
    ]);
    for (const stack of ['acme-Edge', 'acme-Network', 'acme-Platform']) {
      expect(existsSync(path.join(result.out, `${stack}.template.json`)), stack).toBe(true);
    }
  });

  it('rejects a malformed config with one line per problem and no stack trace', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cubicle-bad-'));
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'name: acme',
        'account: "111111111111"',
        'region: eu-west-1',
        'github: { owner: acme, repo: deploy }',
        'providers: [anthropic]',
        'connections: { crm: { hosts: [crm.example.com] } }',
        'users:',
        '  - { id: alice, email: alice@acme.example, agents: [{ id: sales, provider: openai, connections: [crm, bank] }] }',
        '  - { id: alice, email: bob@acme.example, agents: [{ id: x, provider: anthropic }] }',
      ].join('\n'),
    );
    const result = cdkSynth(['-c', `config=${file}`]);
    expect(result.status).not.toBe(0);
    // The problems, then the one line the CDK CLI adds after any failing app (it cannot be switched off).
    expect(result.stderr.trim().split('\n')).toEqual([
      `Invalid Cubicle config ${file}: 3 problems`,
      '  users[0] (alice).agents[0] (sales).provider: provider "openai" is not listed in providers (anthropic): add it there or pick one of those',
      '  users[0] (alice).agents[0] (sales).connections[1]: unknown connection "bank" (defined: crm)',
      '  users[1] (alice).id: duplicate user id "alice" (also users[0]): give each user their own id',
      'npx tsx bin/cubicle.ts: Subprocess exited with error 1',
    ]);
  });

  it('rejects a YAML syntax error the same way', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cubicle-bad-'));
    const file = path.join(dir, 'broken.yaml');
    writeFileSync(file, 'name: [acme\nregion: eu-west-1\n');
    const result = cdkSynth(['-c', `config=${file}`]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('line 2, column 1: YAML syntax:');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('with CI=true and no lock file beside the config, ends in one line naming the file and the command', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cubicle-lock-'));
    const file = path.join(dir, 'lumen.yaml');
    writeFileSync(file, readFileSync(path.join(REPO_ROOT, 'config', 'example.yaml'), 'utf8'));
    const result = cdkSynth(['-c', `config=${file}`]);
    expect(result.status).not.toBe(0);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      new RegExp(
        `^${dir}/lumen\\.lock\\.json: lock file missing, and CI=true forbids creating it .* run \`npx cdk synth -c config=${file}\` locally`,
      ),
    );
    expect(lines[1]).toBe('npx tsx bin/cubicle.ts: Subprocess exited with error 1');
    expect(existsSync(path.join(dir, 'lumen.lock.json'))).toBe(false);
  });

  it('names a missing config file', () => {
    const result = cdkSynth(['-c', 'config=does/not/exist.yaml']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      'Invalid Cubicle config does/not/exist.yaml: 1 problem\n  cannot read config: file not found',
    );
  });
});
