/**
 * The conversation a stand-in CLI keeps in HOME, as the real CLIs keep theirs (the agent's home survives a
 * wake), shared by local mode's stand-in (stand-in.cjs) and the tests' fake CLI. Each CLI's way of asking
 * to continue: claude `--resume <id>` | `--continue`, codex `exec resume <id>` | `--last`, gemini
 * `--resume <id>` | `latest`. Asked to continue a conversation it cannot find, the CLI fails, as the real
 * ones do.
 */
'use strict';
const { mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');

/** The session the CLI was asked to continue ('latest' for the newest), or undefined for a new one. */
function resumeRequested(format, args) {
  const at = (flag) => args.indexOf(flag);
  if (format === 'claude')
    return at('--continue') >= 0 ? 'latest' : at('--resume') >= 0 ? args[at('--resume') + 1] : undefined;
  if (format === 'codex')
    return at('resume') >= 0 ? (args[at('resume') + 1] === '--last' ? 'latest' : args[at('resume') + 1]) : undefined;
  return at('--resume') >= 0 ? args[at('--resume') + 1] : undefined;
}

/**
 * This run's turn number and whether it continued an earlier conversation, kept in
 * `HOME/<folder>/<format>.json`; exits 1 when asked to continue one that is not there.
 */
function conversation(format, args, folder, name) {
  const file = path.join(process.env.HOME || '.', folder, `${format}.json`);
  const resumed = resumeRequested(format, args) !== undefined;
  let turns = 0;
  if (resumed) {
    try {
      turns = JSON.parse(readFileSync(file, 'utf8')).turns;
    } catch {
      process.stderr.write(`${name}: no conversation found to continue\n`);
      process.exit(1);
    }
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ turns: turns + 1 }));
  return { turn: turns + 1, resumed };
}

module.exports = { conversation, resumeRequested };
