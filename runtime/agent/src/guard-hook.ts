/**
 * The hook command each CLI runs before a tool call (Claude Code and Codex: PreToolUse; Gemini CLI:
 * BeforeTool), configured in the image's managed settings. It forwards the call to the supervisor and
 * prints the decision. It fails closed: no supervisor, a bad answer or bad input all block the call
 * (exit code 2 with the reason on stderr is "block" for all three CLIs).
 *
 * Kept free of dependencies: it starts once per tool call.
 */
import { connect } from 'node:net';
import {
  DEFAULT_GUARD_SOCKET,
  GUARD_SOCKET_ENV,
  hookOutput,
  type GuardRequest,
  type GuardResponse,
  type HookFormat,
} from './guard-protocol';

function block(reason: string): never {
  process.stderr.write(`cubicle tool guard: ${reason}\n`);
  process.exit(2);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function ask(socketPath: string, request: GuardRequest): Promise<GuardResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (data: string) => {
      buffer += data;
      const end = buffer.indexOf('\n');
      if (end === -1) return;
      socket.end();
      try {
        const answer = JSON.parse(buffer.slice(0, end)) as GuardResponse;
        if (answer.decision !== 'allow' && answer.decision !== 'deny') throw new Error('bad decision');
        resolve({ decision: answer.decision, reason: String(answer.reason ?? '') });
      } catch {
        reject(new Error('the supervisor sent an unreadable answer'));
      }
    });
    socket.on('error', (error) =>
      reject(new Error(`supervisor unreachable (${(error as NodeJS.ErrnoException).code ?? error.name})`)),
    );
    socket.on('close', () => reject(new Error('the supervisor closed the connection without an answer')));
  });
}

async function main(): Promise<void> {
  const format = process.argv[2] as HookFormat;
  if (format !== 'claude' && format !== 'codex' && format !== 'gemini')
    block('hook format must be claude, codex or gemini');
  let payload: { tool_name?: unknown; tool_input?: unknown; tool_use_id?: unknown };
  try {
    payload = JSON.parse(await readStdin());
  } catch {
    block('hook input is not JSON');
  }
  if (typeof payload.tool_name !== 'string') block('hook input has no tool_name');
  const request: GuardRequest = {
    v: 1,
    format,
    tool: payload.tool_name,
    input: payload.tool_input ?? {},
    ...(typeof payload.tool_use_id === 'string' ? { toolUseId: payload.tool_use_id } : {}),
  };
  let answer: GuardResponse;
  try {
    answer = await ask(process.env[GUARD_SOCKET_ENV] || DEFAULT_GUARD_SOCKET, request);
  } catch (error) {
    block((error as Error).message);
  }
  process.stdout.write(`${hookOutput(format, answer)}\n`);
}

void main();
