import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as h from './helpers';
import { startTaskEndpoint, type TaskEndpoint } from './fixtures/task-endpoint';
import { detectLayout, workbenchLaunch } from './fixtures/workbench-layout';

/**
 * A hostile CLI (fixtures/hostile-cli.cjs) in the workbench, laid out as the task definition describes:
 * two real processes, the workbench started through the image's entrypoint from the environment ECS
 * injects (credentials URI, metadata URIs), in its own PID namespace and as another uid where this
 * machine allows. Every attempt must fail, or be recorded in the supervisor's log. Attempts whose
 * defence is the separate uid or PID namespace are skipped, with the reason, where the machine lacks it.
 */
const HOSTILE = path.join(__dirname, 'fixtures', 'hostile-cli.cjs');
const layout = detectLayout();
const separated = layout.separateUid || layout.separatePidNamespace;
const needs = (what: string) => `${what} [skipped here: ${layout.missing.join('; ')}]`;

interface Attempt {
  readonly attack: string;
  readonly target: string;
  readonly ok: boolean;
  readonly detail: string;
}

let db: h.Db;
const dir = h.workDir();
// The workbench's uid must be able to reach its directories under the test's own.
chmodSync(dir.root, 0o755);
let endpoint: TaskEndpoint;

function hostileBin(root: string): string {
  const bin = path.join(root, 'hostile-bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(path.join(bin, 'claude'), `#!/bin/sh\nexec "${process.execPath}" "${HOSTILE}" "$@"\n`);
  chmodSync(bin, 0o755);
  chmodSync(path.join(bin, 'claude'), 0o755);
  return bin;
}

async function runHostile(name: string, scenario: (supervisorPid: number) => Record<string, unknown>) {
  const p = h.pair(name);
  await h.putSession(db, p);
  const root = path.join(dir.root, name);
  mkdirSync(root, { recursive: true, mode: 0o755 });
  const env = h.agentEnv(db, p, root, {
    ...endpoint.injected,
    PATH: `${hostileBin(root)}:${process.env.PATH}`,
    CUBICLE_WORKBENCH_START_TIMEOUT_MS: '20000',
  });
  chmodSync(root, 0o755);
  const launch = workbenchLaunch(layout, env, endpoint.injected, [env.CUBICLE_WORKSPACE, env.CUBICLE_RUN_DIR]);
  const agent = h.spawnAgent(env, launch);
  await agent.waitForLog('ready', 30_000);
  await h.sendMessage(db, p, scenario(agent.proc.pid!));
  return { p, env, agent };
}

describe(`hostile CLI in the workbench (uid of its own: ${layout.separateUid}, PID namespace of its own: ${layout.separatePidNamespace})`, () => {
  let report: Attempt[] = [];
  let run: Awaited<ReturnType<typeof runHostile>>;
  const attempts = (attack: string) => report.filter((r) => r.attack === attack);

  beforeAll(async () => {
    db = await h.startDb();
    endpoint = await startTaskEndpoint('arn:aws:ecs:eu-west-1:111111111111:task/acme/hostile');
    run = await runHostile('hostile', (supervisorPid) => ({ supervisorPid, endpoint: endpoint.base }));
    await h.waitForEvent(db, run.p, (e) => e.type === 'message.done' || e.type === 'message.failed', 60_000);
    report = JSON.parse(readFileSync(path.join(run.env.CUBICLE_WORKSPACE, 'hostile-report.json'), 'utf8')) as Attempt[];
  }, 120_000);

  afterAll(async () => {
    run?.agent.proc.kill('SIGKILL');
    run?.agent.workbench.kill('SIGKILL');
    await endpoint?.close();
    await db?.close();
  });

  it('ran every attempt', () => {
    const kinds = new Set(report.map((r) => r.attack));
    for (const attack of [
      'own-environment',
      'supervisor-environ',
      'any-environ',
      'supervisor-mem',
      'supervisor-root',
      'supervisor-fd-write',
      'credentials-endpoint',
      'metadata-endpoint',
      'guard-forged-verdict',
      'workbench-impersonation',
      'guard-socket-replace',
      'exchange-write',
      'supervisor-kill',
    ]) {
      expect(kinds, attack).toContain(attack);
    }
  });

  it('the CLI holds no AWS or ECS variable: the entrypoint emptied what ECS injected', () => {
    expect(attempts('own-environment')).toEqual([
      expect.objectContaining({ ok: false, detail: 'no AWS/ECS variable' }),
    ]);
  });

  it('guessed credentials URIs on the credentials endpoint all miss (the real one is read nowhere)', () => {
    const tries = attempts('credentials-endpoint');
    expect(tries.length).toBeGreaterThanOrEqual(8);
    for (const t of tries) expect(t, t.target).toMatchObject({ ok: false });
    // The stand-in served the task role's credentials to no one.
    const credentialsPath = endpoint.injected.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
    expect(endpoint.requests.filter((r) => r.path === credentialsPath)).toEqual([]);
  });

  it('guessed task metadata URIs all miss; only the supervisor read its own task ARN', () => {
    for (const t of attempts('metadata-endpoint')) expect(t, t.target).toMatchObject({ ok: false });
    const served = endpoint.requests.filter((r) => r.status === 200);
    expect(served).toEqual([
      { path: `${new URL(endpoint.injected.ECS_CONTAINER_METADATA_URI_V4).pathname}/task`, status: 200 },
    ]);
  });

  it('a forged verdict on the guard socket is refused, and each one is in the operator log', () => {
    const forged = attempts('guard-forged-verdict');
    expect(forged).toHaveLength(3);
    for (const t of forged) {
      expect(t.ok, t.target).toBe(false);
      expect(JSON.parse(t.detail)).toEqual({ decision: 'deny', reason: 'unreadable tool call' });
    }
    expect(run.agent.logs().filter((l) => l.msg === 'guard socket: request refused')).toHaveLength(3);
  });

  it('posing as the workbench daemon is refused, and recorded', () => {
    expect(attempts('workbench-impersonation'), JSON.stringify(attempts('workbench-impersonation'))).toEqual([
      expect.objectContaining({ ok: false }),
    ]);
    expect(run.agent.logs().filter((l) => l.msg === 'workbench socket: extra connection refused')).toHaveLength(1);
  });

  it('what the CLI prints reaches the log only through the redactor', () => {
    const output = run.agent.output().toString('utf8');
    expect(output).not.toContain(h.PROVIDER_SECRET);
    expect(output).not.toContain(h.CRM_SECRET);
  });

  it.skipIf(!separated)(
    separated
      ? "the supervisor's environment cannot be read (no AWS credentials reach the CLI)"
      : needs("the supervisor's environment"),
    () => {
      expect(attempts('supervisor-environ')).toEqual([expect.objectContaining({ ok: false })]);
      expect(attempts('supervisor-environ')[0].detail).toMatch(/^(EACCES|ENOENT|EPERM)$/);
    },
  );

  it.skipIf(!separated)(
    separated ? 'no process the CLI can see holds an AWS or ECS variable' : needs('every visible environment'),
    () => {
      expect(attempts('any-environ')).toEqual([
        expect.objectContaining({ ok: false, detail: 'none holds an AWS/ECS variable' }),
      ]);
    },
  );

  it.skipIf(!separated)(
    separated ? "the supervisor's memory and root filesystem cannot be opened" : needs("the supervisor's memory"),
    () => {
      for (const t of [...attempts('supervisor-mem'), ...attempts('supervisor-root')]) {
        expect(t, t.attack).toMatchObject({ ok: false });
        expect(t.detail).toMatch(/^(EACCES|ENOENT|EPERM)$/);
      }
    },
  );

  it.skipIf(!separated)(
    separated
      ? "nothing can be written to the supervisor's stdout or stderr (the container log)"
      : needs("the supervisor's file descriptors"),
    () => {
      const writes = attempts('supervisor-fd-write');
      expect(writes).toHaveLength(2);
      for (const t of writes) expect(t, t.target).toMatchObject({ ok: false });
      expect(run.agent.output().toString('utf8')).not.toContain('hostile raw line');
    },
  );

  it.skipIf(!separated)(
    separated ? 'the supervisor cannot be stopped or killed, and keeps serving' : needs('signals to the supervisor'),
    async () => {
      for (const t of attempts('supervisor-kill')) expect(t, t.target).toMatchObject({ ok: false });
      expect(h.isAlive(run.agent.proc.pid!)).toBe(true);
      const next = await h.sendMessage(db, run.p, { supervisorPid: 1, endpoint: endpoint.base, killWorkbench: false });
      await h.waitForEvent(db, run.p, (e) => e.type === 'message.started' && e.messageId === next.sk, 30_000);
    },
  );

  it.skipIf(!layout.separateUid)(
    layout.separateUid
      ? 'the guard socket cannot be replaced and nothing can be created in the exchange directory'
      : needs('the exchange directory'),
    () => {
      for (const t of [...attempts('guard-socket-replace'), ...attempts('exchange-write')]) {
        expect(t, t.attack).toMatchObject({ ok: false });
        expect(t.detail).toMatch(/^(EACCES|EPERM|EROFS)$/);
      }
    },
  );

  it('every attempt failed', () => {
    const expectedToFail = separated
      ? report
      : report.filter((r) => !/^supervisor-|any-environ|guard-socket-replace|exchange-write/.test(r.attack));
    expect(expectedToFail.filter((r) => r.ok)).toEqual([]);
  });
});

afterAll(() => dir.cleanup());

describe('a CLI that kills its own workbench daemon', () => {
  it('ends the task, on the record: the supervisor logs the loss and stops with reason "workbench"', async () => {
    const name = 'regicide';
    const p = h.pair(name);
    const localDb = await h.startDb();
    const localEndpoint = await startTaskEndpoint('arn:aws:ecs:eu-west-1:111111111111:task/acme/regicide');
    const root = path.join(dir.root, name);
    mkdirSync(root, { recursive: true, mode: 0o755 });
    try {
      await h.putSession(localDb, p);
      const env = h.agentEnv(localDb, p, root, {
        PATH: `${hostileBin(root)}:${process.env.PATH}`,
        CUBICLE_WORKBENCH_START_TIMEOUT_MS: '20000',
      });
      chmodSync(root, 0o755);
      // Without the PID namespace: there the daemon would be the namespace's init, which no process inside
      // may kill (in the container, tini is PID 1 and the daemon its child, which the CLI can kill).
      const noPidNamespace = { ...layout, separatePidNamespace: false };
      const agent = h.spawnAgent(
        env,
        workbenchLaunch(noPidNamespace, env, localEndpoint.injected, [env.CUBICLE_WORKSPACE, env.CUBICLE_RUN_DIR]),
      );
      await agent.waitForLog('ready', 30_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${agent.output().toString('utf8').slice(-2000)}`);
      });
      await h.sendMessage(localDb, p, {
        supervisorPid: agent.proc.pid,
        endpoint: localEndpoint.base,
        killWorkbench: true,
      });
      const exit = await agent.exited;
      expect(exit.code).toBe(0);
      expect(agent.logs().find((l) => l.msg === 'workbench lost')).toBeDefined();
      const all = await h.events(localDb, p);
      expect(all.at(-1)).toMatchObject({ type: 'session.stopping', data: { reason: 'workbench' } });
    } finally {
      await localEndpoint.close();
      await localDb.close();
    }
  }, 90_000);
});
