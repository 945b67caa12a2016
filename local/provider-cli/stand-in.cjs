#!/usr/bin/env node
/**
 * The stand-in provider CLI of local mode: `stand-in.cjs <claude|codex|gemini> [the CLI's own args]`,
 * installed as `claude`, `codex` and `gemini` on the PATH of local agent processes only
 * (local/provider-cli/bin). It speaks the headless stream format of the CLI it stands in for, so the
 * supervisor's adapters parse it as they parse the real one, and it asks the tool-guard hook before every
 * tool call exactly as the real CLIs do: the hook command comes from the CLI's settings in its home
 * (placed there from runtime/agent/policy by local mode), run through the shell, with the hook payload
 * on stdin; exit code 2 or a "deny" answer blocks the call.
 *
 * The prompt (stdin):
 *   - each line `fetch https://<host>/<path>` is an outbound tool call for that URL (the stand-in never
 *     connects anywhere); the answer is `fetched <host>` if the guard allowed it (or the employee
 *     approved it) and `refused <host>` otherwise;
 *   - `write <file> <text>` writes the text to a file of the workspace (the CLI's file-write tool) and
 *     answers `wrote <file>`; `read <file>` answers `read <file>: <text>` (file tools, local: the guard
 *     allows them without asking);
 *   - `spend <usd>` makes this run report that cost (Claude's `total_cost_usd`; default 0.01) and answers
 *     `spent <usd> USD`; every run reports 100 input and 40 output tokens, as each real CLI prints them;
 *   - other text is answered with `echo: <text>`.
 * Lines are answered in order.
 */
'use strict';
const { spawn } = require('node:child_process');
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');
const { conversation } = require('./conversation.cjs');

const format = process.argv[2];
if (!['claude', 'codex', 'gemini'].includes(format)) {
  process.stderr.write('usage: stand-in.cjs <claude|codex|gemini>\n');
  process.exit(64);
}
const sessionId = `stand-in-${format}-${process.pid}`;
const emit = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
let counter = 0;

function readStdin() {
  return new Promise((resolve) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** The hook command the CLI's settings configure (the first one for all tools), or undefined. */
function hookCommand() {
  const home = process.env.HOME || '';
  try {
    if (format === 'claude') {
      const settings = JSON.parse(readFileSync(path.join(home, '.claude', 'settings.json'), 'utf8'));
      return settings.hooks?.PreToolUse?.[0]?.hooks?.[0]?.command;
    }
    if (format === 'gemini') {
      const settings = JSON.parse(readFileSync(path.join(home, '.gemini', 'settings.json'), 'utf8'));
      return settings.hooks?.BeforeTool?.[0]?.hooks?.[0]?.command;
    }
    const file = path.join(process.env.CODEX_HOME || path.join(home, '.codex'), 'config.toml');
    if (!existsSync(file)) return undefined;
    return /^\s*command\s*=\s*"([^"]*)"\s*$/m.exec(readFileSync(file, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** Runs the hook for one tool call: { allowed, reason }. Anything but a clear "allow" is a refusal. */
function askHook(tool, input, id) {
  const command = hookCommand();
  if (!command) return Promise.resolve({ allowed: false, reason: 'no tool-guard hook is configured' });
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (e) => resolve({ allowed: false, reason: `hook failed to start (${e.code || e.name})` }));
    child.on('close', (code) => {
      if (code === 2) return resolve({ allowed: false, reason: err.trim() });
      if (code !== 0) return resolve({ allowed: false, reason: `hook exited with ${code}` });
      try {
        const answer = JSON.parse(out);
        const decision = format === 'gemini' ? answer.decision : answer.hookSpecificOutput?.permissionDecision;
        const reason =
          (format === 'gemini' ? answer.reason : answer.hookSpecificOutput?.permissionDecisionReason) || '';
        resolve({ allowed: decision === 'allow', reason });
      } catch {
        resolve({ allowed: false, reason: 'unreadable hook answer' });
      }
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(
      JSON.stringify({
        session_id: sessionId,
        hook_event_name: format === 'gemini' ? 'BeforeTool' : 'PreToolUse',
        cwd: process.cwd(),
        tool_name: tool,
        tool_input: input,
        tool_use_id: id,
      }),
    );
  });
}

const out = {
  start() {
    if (format === 'claude') emit({ type: 'system', subtype: 'init', session_id: sessionId, model: 'stand-in' });
    if (format === 'codex') {
      emit({ type: 'thread.started', thread_id: sessionId });
      emit({ type: 'turn.started' });
    }
    if (format === 'gemini') emit({ type: 'init', session_id: sessionId, model: 'stand-in' });
  },
  say(text) {
    if (format === 'claude')
      emit({
        type: 'assistant',
        message: { role: 'assistant', content: [{ type: 'text', text }] },
        session_id: sessionId,
      });
    if (format === 'codex')
      emit({ type: 'item.completed', item: { id: `item_${counter++}`, type: 'agent_message', text } });
    if (format === 'gemini') emit({ type: 'message', role: 'assistant', content: text, delta: false });
  },
  toolUse(id, tool, input) {
    if (format === 'claude')
      emit({
        type: 'assistant',
        message: { role: 'assistant', content: [{ type: 'tool_use', id, name: tool, input }] },
        session_id: sessionId,
      });
    if (format === 'codex')
      emit({
        type: 'item.started',
        item: { id, type: 'command_execution', command: input.command, status: 'in_progress' },
      });
    if (format === 'gemini') emit({ type: 'tool_use', tool_name: tool, tool_id: id, parameters: input });
  },
  toolResult(id, input, ok, text) {
    if (format === 'claude')
      emit({
        type: 'user',
        message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, is_error: !ok, content: text }] },
      });
    if (format === 'codex')
      emit({
        type: 'item.completed',
        item: {
          id,
          type: 'command_execution',
          command: input.command,
          status: ok ? 'completed' : 'declined',
          aggregated_output: text,
        },
      });
    if (format === 'gemini') emit({ type: 'tool_result', tool_id: id, status: ok ? 'success' : 'error', output: text });
  },
  /** Usage the way each real CLI reports it (runtime/shared/usage.ts): only Claude Code prints a cost. */
  end(costUsd) {
    const input = 100;
    const output = 40;
    if (format === 'claude')
      emit({
        type: 'result',
        subtype: 'success',
        is_error: false,
        result: 'done',
        session_id: sessionId,
        total_cost_usd: costUsd,
        usage: {
          input_tokens: input,
          output_tokens: output,
          cache_read_input_tokens: 0,
          cache_creation_input_tokens: 0,
        },
      });
    if (format === 'codex')
      emit({ type: 'turn.completed', usage: { input_tokens: input, cached_input_tokens: 0, output_tokens: output } });
    if (format === 'gemini')
      emit({
        type: 'result',
        status: 'success',
        stats: { total_tokens: input + output, input_tokens: input, output_tokens: output, cached: 0 },
      });
  },
};

/** The tool each CLI uses to write and read a file. */
function fileCall(kind, file, content) {
  if (format === 'claude')
    return kind === 'write'
      ? { tool: 'Write', input: { file_path: file, content } }
      : { tool: 'Read', input: { file_path: file } };
  if (format === 'gemini')
    return kind === 'write'
      ? { tool: 'write_file', input: { file_path: file, content } }
      : { tool: 'read_file', input: { absolute_path: file } };
  return kind === 'write'
    ? { tool: 'Bash', input: { command: `tee ${file}` } }
    : { tool: 'Bash', input: { command: `cat ${file}` } };
}

/** The tool each CLI would use to fetch a URL. */
function fetchCall(url) {
  if (format === 'claude') return { tool: 'WebFetch', input: { url, prompt: 'Fetch this page.' } };
  if (format === 'gemini') return { tool: 'web_fetch', input: { prompt: `Fetch ${url}` } };
  return { tool: 'Bash', input: { command: `curl -fsS ${url}` } };
}

/** What a run costs unless a `spend <usd>` line says otherwise (budgets can be tried locally). */
const DEFAULT_COST_USD = 0.01;
const SPEND_LINE = /^\s*spend\s+(\d{1,6}(?:\.\d{1,6})?)\s*$/i;
const FETCH_LINE = /^\s*fetch\s+(https?:\/\/([^\s/?#:]+)(?::\d+)?\S*)\s*$/i;
/** A plain file name in the workspace (no directories: the stand-in stays in its working directory). */
const FILE_LINE = /^\s*(write|read)\s+([A-Za-z0-9][A-Za-z0-9._-]{0,99})(?:\s(.*))?$/;

async function tool(tool, input) {
  const id = format === 'claude' ? `toolu_stand_in_${counter++}` : `call_${counter++}`;
  out.toolUse(id, tool, input);
  const verdict = await askHook(tool, input, id);
  return { id, verdict };
}

async function fileLine(kind, name, text) {
  const file = path.join(process.cwd(), name);
  const call = fileCall(kind, file, text);
  const { id, verdict } = await tool(call.tool, call.input);
  if (!verdict.allowed) {
    out.toolResult(id, call.input, false, verdict.reason);
    return out.say(`refused ${kind} ${name}`);
  }
  try {
    if (kind === 'write') {
      writeFileSync(file, `${text}\n`);
      out.toolResult(id, call.input, true, 'ok');
      return out.say(`wrote ${name}`);
    }
    const content = readFileSync(file, 'utf8').trimEnd();
    out.toolResult(id, call.input, true, content);
    return out.say(`read ${name}: ${content}`);
  } catch (error) {
    out.toolResult(id, call.input, false, error.code || error.message);
    return out.say(`could not ${kind} ${name}`);
  }
}

async function main() {
  const prompt = await readStdin();
  const memory = conversation(format, process.argv.slice(3), '.stand-in', 'stand-in');
  out.start();
  // Lines are answered in order: plain text as one `echo:` per run of lines, each command on its own.
  const lines = prompt.split(/\r?\n/);
  let text = [];
  let commands = 0;
  let costUsd = DEFAULT_COST_USD;
  const flush = () => {
    const joined = text.join('\n').trim();
    if (joined) out.say(`echo: ${joined}`);
    text = [];
  };
  for (const line of lines) {
    const spend = SPEND_LINE.exec(line);
    if (spend) {
      flush();
      commands += 1;
      costUsd = Number(spend[1]);
      out.say(`spent ${spend[1]} USD`);
      continue;
    }
    if (/^\s*memory\s*$/i.test(line)) {
      flush();
      commands += 1;
      out.say(`memory: turn ${memory.turn}, resumed ${memory.resumed}`);
      continue;
    }
    const file = FILE_LINE.exec(line);
    const match = file ? null : FETCH_LINE.exec(line);
    if (!file && !match) {
      text.push(line);
      continue;
    }
    flush();
    commands += 1;
    if (file) {
      await fileLine(file[1], file[2], file[3] ?? '');
      continue;
    }
    const [, url, host] = match;
    const call = fetchCall(url);
    const { id, verdict } = await tool(call.tool, call.input);
    out.toolResult(
      id,
      call.input,
      verdict.allowed,
      verdict.allowed ? `(stand-in: nothing was fetched from ${host})` : verdict.reason,
    );
    out.say(`${verdict.allowed ? 'fetched' : 'refused'} ${host.toLowerCase()}`);
  }
  // A message without commands is always answered, even an empty one.
  if (commands === 0 && text.join('').trim() === '') out.say('echo: ');
  flush();
  out.end(costUsd);
}

void main();
