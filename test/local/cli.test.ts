/**
 * `npm start` refuses bad input the way synth does: one line per problem, exit 1, no stack trace.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { minimalConfigText } from '../support/example-config';
import { REPO, startLocalProcess } from './support';

const dir = mkdtempSync(path.join(tmpdir(), 'cubicle-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `npm start`'s entry with these arguments, to its exit. */
function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts', ...args], { cwd: REPO });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);

describe('npm start: bad input', () => {
  it('prints every config problem on its own line, as synth does, and exits 1', async () => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(
      file,
      minimalConfigText({
        providers: '[anthropic]',
        users: '[{ id: Alice, email: nope, agents: [{ id: sales, provider: openai }] }]',
      }),
    );
    const { code, stdout, stderr } = await run(['--config', file, '--data', path.join(dir, 'data')]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(
      new RegExp(`^Invalid Cubicle config ${file.replace(/[.*+?^$()|[\]\\]/g, '\\$&')}: \\d+ problems\\n`),
    );
    expect(stderr).toContain('  users[0] (Alice).id:');
    expect(stderr).toContain('  users[0] (Alice).agents[0] (sales).provider:');
    noStack(stderr);
  });

  it('names a missing config file and a bad option in one line', async () => {
    const [missing, port, unknown] = await Promise.all([
      run(['--config', path.join(dir, 'none.yaml')]),
      run(['--port', 'eighty']),
      run(['--prot', '80']),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^Invalid Cubicle config .*none\.yaml: 1 problem\n {2}cannot read config: file not found\n$/,
    );
    expect(port).toMatchObject({
      code: 1,
      stderr: 'cubicle local: --port must be a whole number from 0 to 65535, got "eighty"\n',
    });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.split('\n')[0]).toMatch(/^cubicle local: Unknown option '--prot'/);
    noStack(unknown.stderr);
  });

  it('refuses a port in use and a data directory another instance uses, in one line', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const busy = await run(['--port', String(port), '--data', path.join(dir, 'busy')]);
    blocker.close();
    expect(busy).toMatchObject({ code: 1, stdout: '' });
    expect(busy.stderr).toBe(
      `cubicle local: port ${port} is already in use on 127.0.0.1; pass another with --port N (0 picks a free one)\n`,
    );

    const data = path.join(dir, 'shared');
    const first = await startLocalProcess(['--data', data], 'node');
    try {
      const second = await run(['--data', data]);
      expect(second.code).toBe(1);
      expect(second.stderr).toBe(
        `cubicle local: another Cubicle local (pid ${first.child.pid}) is using ${data}; stop it or pass --data DIR\n`,
      );
    } finally {
      await first.interrupt();
    }
  });

  it('prints its usage for --help', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npm start -- \[--config PATH\]/);
  });
});
