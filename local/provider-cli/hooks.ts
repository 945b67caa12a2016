/**
 * The tool-guard hook settings of the agent image (runtime/agent/policy/), placed where each CLI reads
 * them in a local task's ephemeral home, with the hook command pointing at `hookDir` (a link to the
 * committed bundles, runtime/agent/dist) instead of the image's /opt/cubicle. The stand-in CLI reads them there too, the way the real CLIs do, so the
 * hook a local agent runs is the one the image configures.
 *
 * In the image these are admin settings (root-owned, read-only, not overridable by the agent); in a
 * local home they are user settings the agent's own processes could change. README "Try it locally".
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const REPO = path.join(__dirname, '..', '..');
const POLICY = path.join(REPO, 'runtime', 'agent', 'policy');
export const AGENT_DIST = path.join(REPO, 'runtime', 'agent', 'dist');
/** Where the image puts the bundles (runtime/agent/Dockerfile). */
const IMAGE_DIR = '/opt/cubicle/';

/** Image policy file → where the CLI reads it under its home. */
const SETTINGS = [
  { source: 'claude-managed-settings.json', target: ['.claude', 'settings.json'] },
  { source: 'gemini-system-settings.json', target: ['.gemini', 'settings.json'] },
  // The supervisor sets CODEX_HOME to <home>/.codex (runtime/agent/src/providers/codex.ts).
  { source: 'codex-requirements.toml', target: ['.codex', 'config.toml'] },
] as const;

export function seedHookSettings(home: string, hookDir: string): void {
  // The commands are shell lines inside JSON and TOML strings: the directory must need no quoting.
  if (!/^[A-Za-z0-9_./-]+$/.test(hookDir))
    throw new Error(`the hook directory ${JSON.stringify(hookDir)} has characters a shell command would need quoted`);
  for (const { source, target } of SETTINGS) {
    const text = readFileSync(path.join(POLICY, source), 'utf8').split(IMAGE_DIR).join(`${hookDir}/`);
    const file = path.join(home, ...target);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, text, { mode: 0o600 });
  }
}
