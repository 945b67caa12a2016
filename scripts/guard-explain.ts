/**
 * `npm run -s guard:explain -- --policy <allow|confirm|deny> --hosts <h1,h2,...> -- <tool name> '<tool input as JSON>'`
 *
 * Prints one line: the verdict (`allow`, `confirm` or `deny`) and the reason, computed by the tool
 * guard's own code (runtime/agent/src/guard.ts), for reviewers and for an employee asking why a call
 * was refused. For a shell call: `-- Bash '{"command":"..."}'`. `--workspace` and `--run-dir` change
 * the task's paths (defaults /workspace and /tmp/cubicle). Bad arguments: one line on stderr, exit 2.
 */
import { parseArgs } from 'node:util';
import { classify, decide, type OutboundPolicy } from '../runtime/agent/src/guard';
import { DEFAULT_GUARD_PATHS } from '../runtime/agent/src/guard-shell';

const USAGE =
  "usage: guard:explain -- --policy <allow|confirm|deny> --hosts <h1,h2,...> -- <tool name> '<tool input as JSON>'";

export function explain(argv: string[]): { line: string; code: number } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        policy: { type: 'string' },
        hosts: { type: 'string' },
        workspace: { type: 'string' },
        'run-dir': { type: 'string' },
      },
      allowPositionals: true,
    });
  } catch (error) {
    return { line: `guard:explain: ${(error as Error).message}; ${USAGE}`, code: 2 };
  }
  const { values, positionals } = parsed;
  const policy = values.policy as OutboundPolicy | undefined;
  if (policy !== 'allow' && policy !== 'confirm' && policy !== 'deny')
    return { line: `guard:explain: --policy must be allow, confirm or deny; ${USAGE}`, code: 2 };
  if (positionals.length !== 2)
    return { line: `guard:explain: expected a tool name and its input as JSON after --; ${USAGE}`, code: 2 };
  const [tool, inputText] = positionals;
  let input: unknown;
  try {
    input = JSON.parse(inputText);
  } catch (error) {
    return { line: `guard:explain: the tool input is not JSON (${(error as Error).message})`, code: 2 };
  }
  const hosts = (values.hosts ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  const paths = {
    workspace: values.workspace ?? DEFAULT_GUARD_PATHS.workspace,
    runDir: values['run-dir'] ?? DEFAULT_GUARD_PATHS.runDir,
  };
  const verdict = decide(policy, classify({ tool, input }, paths), hosts);
  return { line: `${verdict.action} ${verdict.reason}`, code: 0 };
}

if (require.main === module) {
  const { line, code } = explain(process.argv.slice(2));
  (code === 0 ? process.stdout : process.stderr).write(`${line}\n`);
  process.exitCode = code;
}
