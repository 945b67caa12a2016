import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as h from './helpers';

/**
 * The start-up steps run side by side (supervisor.ts startUp): a failure in any one of them, while the others
 * succeed or hang, is one clear line and exit 1, promptly, and closes what had started (the relay connection,
 * the workbench link: the daemon exits with it). Real processes: the harness's supervisor, the workbench daemon
 * (or a process that never connects), the local relay on dynalite.
 */
const { db, dir } = h.agentTestBed();

/** A "workbench" that never connects to the supervisor's socket. */
const silentWorkbench = (env: Record<string, string>): h.WorkbenchLaunch => ({
  command: 'sleep',
  args: ['60'],
  env: { PATH: env.PATH },
});

const openRelayConnections = () => db.relay.adapter.connections.size;

function errorLines(agent: h.AgentProcess): Record<string, unknown>[] {
  return agent.logs().filter((l) => l.level === 'error');
}

/** The error lines of a failed start: exactly one, saying what could not be done and why. */
const oneErrorLine = (msg: string, error: Record<string, unknown>) => [
  expect.objectContaining({ msg, error: expect.objectContaining(error) }),
];

/** Nothing of the task keeps running: the relay saw its connection close and the workbench daemon exited. */
async function nothingLeft(agent: h.AgentProcess): Promise<void> {
  await h.waitFor(() => openRelayConnections() === 0, 4_000, 'the relay connection to close');
  // The harness SIGKILLs a leftover workbench after 5 s: exiting within 4 s is the daemon's own doing.
  await h.waitFor(() => !h.isAlive(agent.workbench.pid!), 4_000, 'the workbench daemon to exit');
}

describe('start-up steps run side by side', () => {
  it('secrets fail after the relay connected and the skills were installed: one line, exit 1, relay closed', async () => {
    const p = h.pair('secrets-late');
    await h.putSession(db, p);
    const agent = h.spawnAgent(
      h.agentEnv(db, p, path.join(dir.root, 'secrets-late'), {
        HARNESS_SECRETS: JSON.stringify({ [h.PROVIDER_ARN]: h.PROVIDER_SECRET }), // the crm secret is missing
        HARNESS_SECRETS_DELAY_MS: '3000',
      }),
    );
    // Both other branches finish while the secrets are still being read.
    await h.waitFor(() => openRelayConnections() === 1, 10_000, 'the relay connection');
    const exit = await agent.exited;
    expect(exit.code).toBe(1);
    expect(errorLines(agent)).toEqual(
      oneErrorLine('could not read secrets', {
        message: 'could not read the connection "crm" secret: ResourceNotFoundException',
      }),
    );
    expect(agent.logs().some((l) => l.msg === 'ready')).toBe(false);
    await nothingLeft(agent);
    expect((await h.events(db, p)).filter((e) => e.type === 'session.started')).toEqual([]);
  });

  it('the relay never hands over the session while the workbench never connects: one line, exit 1 at the relay timeout', async () => {
    const p = h.pair('no-relay');
    // No session row: the relay refuses the task's credentials, so the client retries until its timeout.
    const env = h.agentEnv(db, p, path.join(dir.root, 'no-relay'), {
      CUBICLE_RELAY_START_TIMEOUT_MS: '1500',
      CUBICLE_WORKBENCH_START_TIMEOUT_MS: '60000',
    });
    const agent = h.spawnAgent(env, silentWorkbench(env));
    try {
      const exit = await agent.exited;
      expect(exit.code).toBe(1);
      // Long before the workbench's 60 s timeout: the relay's failure ended the start.
      expect(exit.at - agent.spawnedAt).toBeLessThan(15_000);
      expect(errorLines(agent)).toEqual(
        oneErrorLine('could not connect to the relay', { message: 'the relay did not hand over the session' }),
      );
      expect(openRelayConnections()).toBe(0);
    } finally {
      agent.workbench.kill('SIGKILL');
    }
  });

  it('skills fail to install while the secrets hang: one line, exit 1 without waiting for the secrets, relay closed', async () => {
    const p = h.pair('bad-skill');
    await h.putSession(db, p);
    const agent = h.spawnAgent(
      h.agentEnv(db, p, path.join(dir.root, 'bad-skill'), {
        CUBICLE_SKILLS: 'crm-notes@9.9.9',
        HARNESS_SECRETS_DELAY_MS: '600000',
      }),
    );
    const exit = await agent.exited;
    expect(exit.code).toBe(1);
    expect(exit.at - agent.spawnedAt).toBeLessThan(15_000);
    expect(errorLines(agent)).toEqual(oneErrorLine('could not install skills', { name: 'Error' }));
    expect(JSON.stringify(errorLines(agent))).toContain('crm-notes');
    await nothingLeft(agent);
  });

  it('the workbench never connects while the secrets hang: one line at the workbench timeout, the relay closed', async () => {
    const p = h.pair('no-workbench');
    await h.putSession(db, p);
    const env = h.agentEnv(db, p, path.join(dir.root, 'no-workbench'), {
      CUBICLE_WORKBENCH_START_TIMEOUT_MS: '2500',
      HARNESS_SECRETS_DELAY_MS: '600000',
    });
    const agent = h.spawnAgent(env, silentWorkbench(env));
    try {
      await h.waitFor(() => openRelayConnections() === 1, 10_000, 'the relay connection');
      const exit = await agent.exited;
      expect(exit.code).toBe(1);
      expect(errorLines(agent)).toEqual(
        oneErrorLine('could not reach the workbench', { message: 'the workbench did not connect' }),
      );
      await h.waitFor(() => openRelayConnections() === 0, 4_000, 'the relay connection to close');
    } finally {
      agent.workbench.kill('SIGKILL');
    }
  });

  it('all steps succeed side by side: ready comes after the session, the skills and session.started', async () => {
    const p = h.pair('all-good');
    await h.putSession(db, p);
    const agent = h.spawnAgent(h.agentEnv(db, p, path.join(dir.root, 'all-good'), { HARNESS_SECRETS_DELAY_MS: '500' }));
    try {
      const ready = await agent.waitForLog('ready', 20_000);
      expect(ready).toMatchObject({ skills: 1, connections: 1 });
      const started = (await h.events(db, p)).filter((e) => e.type === 'session.started');
      expect(started).toHaveLength(1);
      expect(started[0].data).toMatchObject({ skills: ['crm-notes@1.2.0'] });
      expect(errorLines(agent)).toEqual([]);
    } finally {
      agent.proc.kill('SIGTERM');
      expect((await agent.exited).code).toBe(0);
    }
  });
});
