import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/example-config';

/** Runs the real CDK CLI as a user would, without AWS credentials or a profile. */
function cdkSynth(args: string[]) {
  const home = mkdtempSync(path.join(tmpdir(), 'cubicle-home-'));
  const out = mkdtempSync(path.join(tmpdir(), 'cubicle-cli-out-'));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, CI: 'true', AWS_EC2_METADATA_DISABLED: 'true', CDK_VALIDATION: 'false' };
  const result = spawnSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk'), ['synth', '-q', '--output', out, ...args], {
    cwd: REPO_ROOT,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { ...result, out };
}

describe('npx cdk synth', () => {
  it('synthesizes the bundled example offline with no AWS credentials', () => {
    const result = cdkSynth([]);
    expect(result.stderr).not.toMatch(/credentials|Unable to resolve AWS account/i);
    expect(result.status).toBe(0);
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
    const lines = result.stderr.split('\n');
    expect(lines).toContain(`Invalid Cubicle config ${file}: 3 problems`);
    expect(lines).toContain('  users[0].agents[0].provider: provider "openai" is not listed in providers (anthropic)');
    expect(lines).toContain('  users[0].agents[0].connections[1]: unknown connection "bank" (defined: crm)');
    expect(lines).toContain('  users[1].id: duplicate user id "alice" (also users[0])');
    expect(result.stderr).not.toMatch(/^\s+at /m);
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

  it('names a missing config file', () => {
    const result = cdkSynth(['-c', 'config=does/not/exist.yaml']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('Invalid Cubicle config does/not/exist.yaml: 1 problem\n  cannot read config: file not found');
  });
});
