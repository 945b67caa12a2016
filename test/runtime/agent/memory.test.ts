import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as h from './helpers';

/**
 * Issue 17 item 4: the CLI's home lives on the pair's kept storage (the EFS access point; here the
 * workspace's .cubicle/home, as the harness's workbench is told), so a second wake — a new supervisor and
 * workbench, the same directory — continues the first wake's conversation. Credential files never land
 * there.
 */
const { db, dir } = h.agentTestBed();

/** One wake: the task's two processes answer one message and are stopped. */
async function wake(p: h.Pair, env: Record<string, string>, body: unknown): Promise<string[]> {
  const {
    messages: [message],
    all,
  } = await h.runMessages(db, p, env, [body]);
  expect(all.find((e) => e.messageId === message.sk && e.type === 'message.failed')).toBeUndefined();
  return all.filter((e) => e.messageId === message.sk && e.type === 'reply').map((e) => String(e.data.text));
}

function filesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(root, f))
    .filter((f) => statSync(f, { throwIfNoEntry: false })?.isFile());
}

describe('agent memory survives a wake', () => {
  for (const provider of ['anthropic', 'openai', 'google'] as const) {
    it(`${provider}: the second wake continues the first wake's conversation from the kept home`, async () => {
      const p = h.pair(`memory-${provider}`);
      const env = h.agentEnv(db, p, path.join(dir.root, provider), { CUBICLE_PROVIDER: provider });
      const home = path.join(env.CUBICLE_WORKSPACE, '.cubicle', 'home');

      expect(await wake(p, env, { steps: [{ memory: true }] })).toEqual(['memory: turn 1, resumed false']);
      // The conversation is on the kept storage, not in the task's run directory.
      expect(filesUnder(home).some((f) => f.includes('.fake-cli'))).toBe(true);
      expect(filesUnder(env.CUBICLE_RUN_DIR).some((f) => f.includes('.fake-cli'))).toBe(false);

      expect(await wake(p, env, { steps: [{ memory: true }] })).toEqual(['memory: turn 2, resumed true']);
    }, 60_000);
  }

  it('a first wake in an empty home starts a new conversation (it is not asked to continue one that does not exist)', async () => {
    const p = h.pair('memory-fresh');
    const env = h.agentEnv(db, p, path.join(dir.root, 'fresh'), { CUBICLE_PROVIDER: 'anthropic' });
    expect(await wake(p, env, { steps: [{ memory: true }] })).toEqual(['memory: turn 1, resumed false']);
  }, 60_000);

  it('a credential file is on ephemeral storage for the run only, never in the kept home', async () => {
    const p = h.pair('memory-creds');
    const refresh = 'refresh-memory-0123456789abcdef';
    const creds = JSON.stringify({ access_token: 'ya29.memory-access-token-aaaaaaaaaaaa', refresh_token: refresh });
    const env = h.agentEnv(db, p, path.join(dir.root, 'creds'), {
      CUBICLE_PROVIDER: 'google',
      HARNESS_SECRETS: JSON.stringify({
        [h.PROVIDER_ARN]: JSON.stringify({ kind: 'oauth-creds', value: creds }),
        [h.CRM_ARN]: h.CRM_SECRET,
      }),
    });
    const home = path.join(env.CUBICLE_WORKSPACE, '.cubicle', 'home');
    // During the run the CLI finds it where it looks (a link in its home), its content elsewhere.
    expect(await wake(p, env, { steps: [{ credentialFile: '.gemini/oauth_creds.json' }] })).toEqual([
      'credential file: link, content in home false, readable true',
    ]);
    // After the run: gone from the home and from the ephemeral directory; the secret is in no kept file.
    expect(existsSync(path.join(home, '.gemini', 'oauth_creds.json'))).toBe(false);
    expect(filesUnder(path.join(env.CUBICLE_RUN_DIR, 'credentials'))).toEqual([]);
    expect(filesUnder(home).length).toBeGreaterThan(0);
    for (const file of filesUnder(env.CUBICLE_WORKSPACE))
      expect(readFileSync(file, 'utf8'), file).not.toContain(refresh);
  }, 60_000);
});
