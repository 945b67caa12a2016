import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isIdentityVariable, WORKBENCH_SOCKET } from '../../../runtime/agent/src/workbench-protocol';
import { WORKBENCH, workDir } from './helpers';
import { WORKBENCH_ENTRYPOINT } from './fixtures/workbench-layout';

/** What ECS puts into every container of a task with a task role (the workbench included). */
const INJECTED = {
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/3f0e9c1a-7d2b-4c55-9a61-0b7f2d8e4c13',
  ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/abc-123',
  ECS_CONTAINER_METADATA_URI: 'http://169.254.170.2/v3/abc-123',
  ECS_AGENT_URI: 'http://169.254.170.2/api/abc-123',
  AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE',
  AWS_REGION: 'eu-west-1',
  AWS_DEFAULT_REGION: 'eu-west-1',
};

const dir = workDir();
afterAll(() => dir.cleanup());

describe('the workbench entrypoint (runtime/agent/workbench-env.sh)', () => {
  it('starts its command from an empty environment plus the allow-list: nothing ECS injected gets through', () => {
    const out = path.join(dir.root, 'env.txt');
    const result = spawnSync(
      'sh',
      [WORKBENCH_ENTRYPOINT, 'sh', '-c', 'env > "$0"; echo to-stdout; echo to-stderr >&2', out],
      {
        env: {
          ...INJECTED,
          PATH: process.env.PATH,
          CUBICLE_EXCHANGE_DIR: '/run/cubicle',
          AWS_ACCESS_KEY_ID: 'AKIA',
          ANTHROPIC_API_KEY: 'x',
        },
        encoding: 'utf8',
      },
    );
    expect(result.status).toBe(0);
    const names = readFileSync(out, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('=')[0]);
    expect(names.filter((n) => /^(AWS|ECS)_/.test(n))).toEqual([]);
    expect(names).not.toContain('ANTHROPIC_API_KEY');
    expect(names).toEqual(expect.arrayContaining(['PATH', 'HOME', 'CUBICLE_EXCHANGE_DIR']));
    // Nothing of the workbench reaches the container's log: stdout and stderr are /dev/null.
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('');
  });
});

describe('the workbench daemon', () => {
  it('refuses to start when an identity variable reached it anyway, naming it (fails closed)', () => {
    const result = spawnSync(process.execPath, [WORKBENCH], {
      env: {
        PATH: process.env.PATH,
        CUBICLE_RUN_DIR: path.join(dir.root, 'run'),
        CUBICLE_EXCHANGE_DIR: path.join(dir.root, 'x'),
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/x',
      },
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI');
    expect(result.stderr).not.toContain('/v2/credentials/x');
  });

  it('connects within a few milliseconds of the supervisor opening its socket (it starts first and keeps trying)', async () => {
    // Issue 15 (start-to-ready): a 100 ms wait between tries once delayed every task's "ready" by up to 0.1 s.
    const delays: number[] = [];
    for (let trial = 0; trial < 7; trial += 1) {
      const exchange = path.join(dir.root, `late-${trial}`);
      mkdirSync(exchange, { recursive: true });
      const daemon = spawn(process.execPath, [WORKBENCH], {
        env: {
          PATH: process.env.PATH,
          CUBICLE_RUN_DIR: path.join(dir.root, `late-run-${trial}`),
          CUBICLE_EXCHANGE_DIR: exchange,
          CUBICLE_HOME_DIR: path.join(dir.root, `late-home-${trial}`),
        },
        stdio: 'ignore',
      });
      const exited = new Promise((resolve) => daemon.once('exit', resolve));
      try {
        // The daemon is up and failing to connect (no socket yet) well before the socket appears; the socket
        // appears at a different moment of its retry cycle each trial (13 ms apart: 0-91 ms into a 100 ms cycle).
        await new Promise((resolve) => setTimeout(resolve, 400 + trial * 13));
        let opened = 0;
        const connected = new Promise<number>((resolve) => {
          const server = createServer((socket) => {
            resolve(performance.now() - opened);
            socket.destroy();
            server.close();
          });
          server.listen(path.join(exchange, WORKBENCH_SOCKET), () => (opened = performance.now()));
        });
        delays.push(await connected);
        await exited; // the daemon ends with the supervisor's connection
      } finally {
        daemon.kill('SIGKILL');
      }
    }
    delays.sort((a, b) => a - b);
    // All but the slowest (a busy machine): a 100 ms wait would leave most of them 30-100 ms late.
    expect(delays[5], delays.map((d) => d.toFixed(0)).join(' ')).toBeLessThan(30);
  });

  it('treats every AWS_/ECS_ variable and container credential or metadata variable as identity, the region aside', () => {
    for (const name of [
      ...Object.keys(INJECTED).filter((n) => !/REGION$/.test(n)),
      'AWS_ACCESS_KEY_ID',
      'AWS_SESSION_TOKEN',
      'AWS_PROFILE',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
      'AWS_CONTAINER_AUTHORIZATION_TOKEN',
      'aws_secret_access_key',
    ]) {
      expect(isIdentityVariable(name), name).toBe(true);
    }
    for (const name of [
      'AWS_REGION',
      'AWS_DEFAULT_REGION',
      'PATH',
      'HOME',
      'ANTHROPIC_API_KEY',
      'CUBICLE_CONNECTION_CRM_SECRET',
    ])
      expect(isIdentityVariable(name), name).toBe(false);
  });
});
