import { describe, expect, it } from 'vitest';
import { AgentChild } from '../../../runtime/agent/src/child';
import { isAlive, waitFor } from './helpers';

const base = { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, cwd: process.cwd(), stdin: '' };

describe('AgentChild (real processes)', () => {
  it('stops a process group that ignores SIGTERM: SIGKILL after the grace, tool processes included', async () => {
    const lines: string[] = [];
    const child = new AgentChild({
      ...base,
      command: 'sh',
      // The "CLI" and its "tool process" both ignore SIGTERM.
      args: ['-c', 'trap "" TERM; sleep 1000 & echo "tool $!"; while true; do sleep 0.1; done'],
      onStdoutLine: (l) => lines.push(l),
      onStderrLine: () => undefined,
    });
    const line = await waitFor(() => lines.find((l) => l.startsWith('tool ')), 5_000, 'tool pid');
    const toolPid = Number(line.split(' ')[1]);
    const started = Date.now();
    const exit = await child.stop(500);
    const took = Date.now() - started;
    expect(exit.killed).toBe(true);
    expect(exit.signal).toBe('SIGKILL');
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(1_500);
    await waitFor(() => !isAlive(toolPid) || undefined, 2_000, 'tool process to die');
  });

  it('a process that exits on SIGTERM is not killed', async () => {
    const child = new AgentChild({
      ...base,
      command: 'sleep',
      args: ['1000'],
      onStdoutLine: () => undefined,
      onStderrLine: () => undefined,
    });
    const exit = await child.stop(5_000);
    expect(exit).toMatchObject({ signal: 'SIGTERM', killed: false });
  });

  it('feeds the prompt on stdin, splits output into lines, and reports a missing executable', async () => {
    const lines: string[] = [];
    const child = new AgentChild({
      ...base,
      stdin: 'one\ntwo',
      command: 'cat',
      args: [],
      onStdoutLine: (l) => lines.push(l),
      onStderrLine: () => undefined,
    });
    expect((await child.exited).code).toBe(0);
    expect(lines).toEqual(['one', 'two']);
    const missing = new AgentChild({
      ...base,
      command: 'no-such-cli-here',
      args: [],
      onStdoutLine: () => undefined,
      onStderrLine: () => undefined,
    });
    expect((await missing.exited).spawnError).toBe('ENOENT');
  });

  it('does not wait for background processes the CLI left holding its pipes', async () => {
    const started = Date.now();
    const child = new AgentChild({
      ...base,
      command: 'sh',
      args: ['-c', 'sleep 1000 & echo done'],
      onStdoutLine: () => undefined,
      onStderrLine: () => undefined,
    });
    expect((await child.exited).code).toBe(0);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
