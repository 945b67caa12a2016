import { spawn } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { classify, decide } from '../../../runtime/agent/src/guard';
import { hostAllowed, hostsInText } from '../../../runtime/agent/src/guard-hosts';
import { realPath } from '../../../runtime/agent/src/guard-shell';
import { hookOutput, type GuardRequest } from '../../../runtime/agent/src/guard-protocol';
import { GuardServer } from '../../../runtime/agent/src/guard-server';
import { REPO, workDir } from './helpers';

const HOOK = path.join(REPO, 'runtime', 'agent', 'dist', 'guard-hook.cjs');
const CRM = ['acme.my.salesforce.com', '*.bank.example'];

describe('classification', () => {
  it.each([
    ['Read', { file_path: '/workspace/a' }, false, []],
    ['Write', { file_path: '/workspace/a', content: 'x' }, false, []],
    ['apply_patch', { command: '*** Begin Patch\n*** Add File: notes/a.md\n+x\n*** End Patch' }, false, []],
    [
      'apply_patch',
      { command: ['apply_patch', '*** Begin Patch\n*** Update File: /tmp/cubicle/home/.profile\n*** End Patch'] },
      true,
      [],
    ],
    ['read_file', { absolute_path: '/workspace/a' }, false, []],
    // The CLI's kept home is in the workspace volume but is a home: its start-up files are not workspace files.
    ['Write', { file_path: '/workspace/.cubicle/home/.bashrc', content: 'x' }, true, []],
    ['Edit', { file_path: '.cubicle/home/.claude/settings.json' }, true, []],
    ['Bash', { command: 'echo "curl x" >> .cubicle/home/.profile' }, true, []],
    ['Bash', { command: 'echo x > ./sub/../.cubicle' }, true, []],
    ['Write', { file_path: '/workspace/.cubicle-notes.md', content: 'x' }, false, []],
    ['WebFetch', { url: 'https://Acme.My.Salesforce.com:443/x', prompt: 'p' }, true, ['acme.my.salesforce.com']],
    [
      'web_fetch',
      { prompt: 'summarise https://docs.example.org/a and http://x.example' },
      true,
      ['docs.example.org', 'x.example'],
    ],
    ['WebSearch', { query: 'acme' }, true, []],
    ['google_web_search', { query: 'acme' }, true, []],
    ['Bash', { command: 'ls -la && grep -r foo . | wc -l' }, false, []],
    ['Bash', { command: 'git status; git diff --stat' }, true, []], // git runs hooks and configured commands
    ['Bash', { command: 'git push origin main' }, true, []],
    ['Bash', { command: 'curl -s https://api.bank.example/v1' }, true, ['api.bank.example']],
    ['Bash', { command: 'python3 -c "import urllib.request"' }, true, []],
    ['Bash', { command: 'cat $(which secret)' }, false, []],
    ['Bash', { command: 'cat $(curl -s https://x.example)' }, true, ['x.example']],
    ['Bash', { command: 'echo hi > /dev/tcp/1.2.3.4/443' }, true, ['1.2.3.4']],
    ['Bash', { command: 'git clone git@github.com:acme/repo.git' }, true, ['github.com']],
    ['run_shell_command', { command: 'echo "a;curl x" ' }, false, []],
    ['mcp__crm__update_lead', { id: 1 }, true, []],
    ['SomethingNew', {}, true, []],
  ])('%s %j → outbound=%s hosts=%j', (tool, input, outbound, hosts) => {
    const c = classify({ tool, input });
    expect(c.outbound).toBe(outbound);
    expect(c.hosts).toEqual(hosts);
  });

  it('hosts in free text are normalized; addresses that do not parse are skipped', () => {
    expect(
      hostsInText('see https://[::1]:8080/x and ssh://user@Host.Example/p, http://2130706433/ and git@github.com:a/b'),
    ).toEqual(['[::1]', 'host.example', '127.0.0.1', 'github.com']);
    expect(hostsInText('https://a\\@b.example/ and https://%65vil.example/')).toEqual([]);
  });
});

describe('symbolic links planted in the workspace (real files)', () => {
  const dir = workDir();
  afterAll(() => dir.cleanup());
  const workspace = path.join(dir.root, 'workspace');
  const runDir = path.join(dir.root, 'tmp', 'cubicle');
  mkdirSync(path.join(runDir, 'home'), { recursive: true });
  mkdirSync(path.join(workspace, 'notes'), { recursive: true });
  writeFileSync(path.join(runDir, 'home', '.bashrc'), '');
  symlinkSync(path.join(runDir, 'home', '.bashrc'), path.join(workspace, 'rc'));
  symlinkSync(path.join(runDir, 'home'), path.join(workspace, 'h'));
  const paths = { workspace, runDir, resolve: realPath };

  it('a write through a link to the CLI’s home is outbound, by a file tool or a shell redirection', () => {
    const write = classify(
      { tool: 'Write', input: { file_path: path.join(workspace, 'rc'), content: 'curl x' } },
      paths,
    );
    expect(write.outbound).toBe(true);
    expect(write.why).toContain('(rc is a symbolic link there)'.replace('rc', path.join(workspace, 'rc')));
    expect(classify({ tool: 'Bash', input: { command: 'echo "ls() { curl x; }" >> rc' } }, paths).outbound).toBe(true);
    expect(classify({ tool: 'Bash', input: { command: 'cp evil h/.profile' } }, paths).outbound).toBe(true);
    expect(
      classify({ tool: 'Edit', input: { file_path: path.join(workspace, 'h', 'new-file') } }, paths).outbound,
    ).toBe(true);
  });

  it('ordinary files and new files in the workspace stay local; without a resolver the link is not seen', () => {
    expect(classify({ tool: 'Bash', input: { command: 'echo x > notes/today.md' } }, paths).outbound).toBe(false);
    expect(
      classify({ tool: 'Write', input: { file_path: path.join(workspace, 'notes', 'new', 'deep.md') } }, paths)
        .outbound,
    ).toBe(false);
    expect(classify({ tool: 'Bash', input: { command: 'echo x >> rc' } }, { workspace, runDir }).outbound).toBe(false);
  });
});

describe('policy', () => {
  const outbound = (hosts: string[]) => ({
    outbound: true,
    hosts,
    why: 'curl opens network connections',
    summary: 's',
  });
  it('local calls always run; unknown hosts and unreadable calls are denied whatever the policy', () => {
    for (const policy of ['allow', 'confirm', 'deny'] as const) {
      expect(decide(policy, { outbound: false, hosts: [], why: 'local tool', summary: 's' }, CRM)).toEqual({
        action: 'allow',
        reason: 'local tool',
      });
      expect(decide(policy, outbound(['evil.example']), CRM)).toEqual({
        action: 'deny',
        reason: "host evil.example is not in this agent's connections",
      });
      expect(decide(policy, { ...outbound([]), refuse: 'x is computed' }, CRM)).toEqual({
        action: 'deny',
        reason: 'refused: x is computed',
      });
    }
  });
  it('allow / confirm / deny for connection hosts and host-less outbound calls, with the reason', () => {
    expect(decide('allow', outbound(['acme.my.salesforce.com']), CRM)).toEqual({
      action: 'allow',
      reason: "outbound (curl opens network connections); this agent's outbound policy allows it",
    });
    expect(decide('confirm', outbound(['api.bank.example']), CRM)).toEqual({
      action: 'confirm',
      reason: 'outbound (curl opens network connections); needs the employee’s approval',
    });
    expect(decide('deny', outbound(['acme.my.salesforce.com']), CRM).action).toBe('deny');
    expect(decide('confirm', outbound([]), CRM).action).toBe('confirm');
    expect(decide('allow', outbound([]), []).action).toBe('allow');
  });
  it('host wildcards match subdomains only; IP literals match only themselves; IDN entries match their punycode', () => {
    expect(hostAllowed('api.bank.example', CRM)).toBe(true);
    expect(hostAllowed('bank.example', CRM)).toBe(false);
    expect(hostAllowed('evilbank.example', CRM)).toBe(false);
    expect(hostAllowed('acme.my.salesforce.com', CRM)).toBe(true);
    expect(hostAllowed('10.0.0.1', ['*.0.0.1'])).toBe(false);
    expect(hostAllowed('10.0.0.1', ['10.0.0.1'])).toBe(true);
    expect(hostAllowed('xn--bcher-kva.example', ['bücher.example'])).toBe(true);
  });
});

describe('hook command (real process) and guard socket', () => {
  const dir = workDir();
  afterAll(() => dir.cleanup());

  function runHook(
    format: string,
    stdin: string,
    socket?: string,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [HOOK, format], {
        env: { PATH: process.env.PATH, ...(socket ? { CUBICLE_GUARD_SOCKET: socket } : {}) },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(stdin);
    });
  }

  it('prints each CLI’s decision shape and forwards the call to the supervisor', async () => {
    const seen: GuardRequest[] = [];
    const server = new GuardServer(path.join(dir.root, 'g.sock'), async (request) => {
      seen.push(request);
      return request.tool === 'Read' ? { decision: 'allow', reason: 'local tool' } : { decision: 'deny', reason: 'no' };
    });
    await server.listen();
    try {
      const read = await runHook(
        'claude',
        JSON.stringify({ tool_name: 'Read', tool_input: { file_path: '/a' }, tool_use_id: 't1' }),
        server.socketPath,
      );
      expect(read.code).toBe(0);
      expect(JSON.parse(read.stdout)).toEqual({
        hookSpecificOutput: {
          hookEventName: 'PreToolUse',
          permissionDecision: 'allow',
          permissionDecisionReason: 'local tool',
        },
      });
      const codex = await runHook(
        'codex',
        JSON.stringify({ tool_name: 'Bash', tool_input: { command: 'curl x' } }),
        server.socketPath,
      );
      expect(JSON.parse(codex.stdout).hookSpecificOutput.permissionDecision).toBe('deny');
      const gemini = await runHook(
        'gemini',
        JSON.stringify({ tool_name: 'web_fetch', tool_input: {} }),
        server.socketPath,
      );
      expect(JSON.parse(gemini.stdout)).toEqual({ decision: 'deny', reason: 'no' });
      expect(seen.map((r) => [r.format, r.tool, r.toolUseId])).toEqual([
        ['claude', 'Read', 't1'],
        ['codex', 'Bash', undefined],
        ['gemini', 'web_fetch', undefined],
      ]);
    } finally {
      await server.close();
    }
  });

  it('fails closed: no supervisor, bad input or an unknown format all block with exit code 2', async () => {
    const input = JSON.stringify({ tool_name: 'Read', tool_input: {} });
    const gone = await runHook('claude', input, path.join(dir.root, 'nobody.sock'));
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain('supervisor unreachable');
    expect((await runHook('claude', 'not json', path.join(dir.root, 'nobody.sock'))).code).toBe(2);
    expect((await runHook('vim', input)).code).toBe(2);
  });

  it('the server denies a malformed request instead of hanging', async () => {
    const server = new GuardServer(path.join(dir.root, 'h.sock'), async () => ({ decision: 'allow', reason: 'x' }));
    await server.listen();
    try {
      const { connect } = await import('node:net');
      const answer = await new Promise<string>((resolve) => {
        const s = connect(server.socketPath, () => s.write('{"v":2}\n'));
        let data = '';
        s.on('data', (d) => (data += d));
        s.on('close', () => resolve(data));
      });
      expect(JSON.parse(answer)).toEqual({ decision: 'deny', reason: 'unreadable tool call' });
    } finally {
      await server.close();
    }
  });

  it('hook output shapes', () => {
    expect(JSON.parse(hookOutput('gemini', { decision: 'allow', reason: 'x' }))).toEqual({ decision: 'allow' });
    expect(JSON.parse(hookOutput('claude', { decision: 'deny', reason: 'r' })).hookSpecificOutput).toEqual({
      hookEventName: 'PreToolUse',
      permissionDecision: 'deny',
      permissionDecisionReason: 'r',
    });
  });
});

describe('quote removal matches bash (real bash prints the words it would pass)', () => {
  // Static words only: bash runs nothing but its printf builtin here.
  const WORDS = [
    `"https://allowed.example"@evil.example/`,
    `c\\url`,
    `'a'"b"c\\ d`,
    `"a\\"b" "\\$x" "\\\\" "\\q"`,
    `'it'\\''s'`,
    `c''url "cu"rl`,
    `x\\\ny`,
    `"line\\\ncontinued"`,
    `'https://allowed.example'\\@evil.example`,
    `https://[::1]:8080/ http://0x7f.1/`,
    `$'plain' "tab\there"`,
  ];
  it.each(WORDS)('%s', async (words) => {
    const { parseShell } = await import('../../../runtime/agent/src/shell-syntax.js');
    const line = `printf '%s\\0' ${words}`;
    const bash = await new Promise<string>((resolve, reject) => {
      const child = spawn('bash', ['-c', line], { env: { PATH: process.env.PATH } });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('error', reject);
      child.on('close', () => resolve(out));
    });
    const [call] = parseShell(line).calls;
    expect(call.words.slice(2).every((w) => !w.computed)).toBe(true);
    expect(call.words.slice(2).map((w) => w.text)).toEqual(bash.split('\0').slice(0, -1));
  });
});
