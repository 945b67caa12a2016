import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, inject } from 'vitest';
import { App, Stack } from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { AgentImages, shippedSkills } from '../../lib/constructs/agent-images';
import { AGENT_IMAGE_DIRECTORY } from '../../lib/stacks/platform-stack';
import { installSkills } from '../../runtime/agent/src/skills';
import { taskFamily } from '../../runtime/shared/names';
import { exampleTemplates, resourcesOfType } from '../support/assembly';
import { exampleConfig } from '../support/example-config';

/**
 * Claim 6 (docs/isolation-claims.md) for skills: each agent's image holds only the skills that agent names. Read from the example
 * assembly (synthesized once by the global setup): every task definition's image, the build context CDK
 * staged for it, and a real process that tries to read another agent's skill.
 */
const assemblyDir = inject('exampleAssemblyDir');
const config = exampleConfig();
const fleet = exampleTemplates().get('acme-Fleet-01')!;

function files(dir: string, root = dir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) =>
    statSync(path.join(dir, f)).isDirectory()
      ? files(path.join(dir, f), root)
      : [path.relative(root, path.join(dir, f))],
  );
}

/** user/agent → the staged build context of its task definition's image. */
const contexts = new Map<string, string>();
for (const [, resource] of resourcesOfType(fleet, 'AWS::ECS::TaskDefinition')) {
  const family = resource.Properties.Family as string;
  const tag = /:([0-9a-f]{64})"/.exec(JSON.stringify(resource.Properties.ContainerDefinitions[0].Image))![1];
  contexts.set(family, path.join(assemblyDir, `asset.${tag}`));
}
const contextOf = (user: string, agent: string) => {
  const found = [...contexts].find(([family]) => family === taskFamily(config.name, user, agent));
  if (!found) throw new Error(`no task definition for ${user}/${agent}: ${[...contexts.keys()].join(', ')}`);
  return found[1];
};

describe('agent images per skill set', () => {
  it('every agent’s image context holds exactly its skills, and nothing else differs between images', () => {
    const agents = config.users.flatMap((u) => u.agents.map((a) => ({ user: u.id, agent: a.id, skills: a.skills })));
    expect(agents.length).toBe(contexts.size);
    const others = new Set<string>();
    for (const { user, agent, skills } of agents) {
      const context = contextOf(user, agent);
      const shipped = files(path.join(context, 'skills')).filter((f) => f !== 'README.md');
      expect(shipped, `${user}/${agent}`).toEqual(skills.map((ref) => `${ref.replace('@', '/')}/SKILL.md`).sort());
      // Not even an empty folder names another skill.
      expect(readdirSync(path.join(context, 'skills')).sort()).toEqual(
        [...new Set(['README.md', ...skills.map((r) => r.split('@')[0])])].sort(),
      );
      others.add(JSON.stringify(files(context).filter((f) => !f.startsWith('skills/'))));
    }
    expect(others.size).toBe(1);
    // The example's (CLI, skills) pairs: claude with none or crm-notes, codex with none or crm-notes, gemini
    // with style-guide.
    expect(new Set(contexts.values()).size).toBe(5);
  });

  it('a skill that is not in runtime/agent/skills fails synth with its name', () => {
    expect([...shippedSkills(path.join(AGENT_IMAGE_DIRECTORY, 'skills'))].sort()).toEqual([
      'crm-notes@1.2.0',
      'style-guide@0.3.1',
    ]);
    const stack = new Stack(new App(), 'S');
    expect(
      () =>
        new AgentImages(stack, 'Images', {
          directory: AGENT_IMAGE_DIRECTORY,
          agents: [{ provider: 'anthropic', skills: ['crm-notes@1.2.0', 'crm-notes@9.9.9'] }],
          platform: Platform.LINUX_AMD64,
        }),
    ).toThrow(
      `skill crm-notes@9.9.9 is not in ${path.join(AGENT_IMAGE_DIRECTORY, 'skills')} (expected <name>/<version>/SKILL.md)`,
    );
  });

  it('agents with the same CLI and skills share one image; another CLI or other skills get another', () => {
    expect(contextOf('bruno', 'research')).toBe(contextOf('chen', 'ops')); // bedrock and anthropic: Claude Code, no skills
    expect(contextOf('bruno', 'research')).toBe(contextOf('chen', 'scout'));
    expect(contextOf('alice', 'sales')).not.toBe(contextOf('chen', 'analyst')); // same skills, Claude Code vs Codex
    expect(contextOf('alice', 'sales')).not.toBe(contextOf('chen', 'ops')); // same CLI, other skills
    expect(contextOf('alice', 'sales')).not.toBe(contextOf('bruno', 'writer'));
  });

  describe('another agent’s skill is unreadable to the agent process (real processes)', () => {
    const home = mkdtempSync(path.join(tmpdir(), 'cubicle-skills-'));
    afterAll(() => rmSync(home, { recursive: true, force: true }));

    it('alice/sales installs crm-notes from its image; style-guide (bruno/writer’s) is nowhere it can read', () => {
      const source = path.join(contextOf('alice', 'sales'), 'skills'); // what the image copies to /opt/cubicle/skills
      const skillsHome = path.join(home, '.claude', 'skills');
      expect(installSkills(['crm-notes@1.2.0'], source, [skillsHome])).toEqual(['crm-notes@1.2.0']);
      expect(() => installSkills(['style-guide@0.3.1'], source, [skillsHome])).toThrow(
        'skill style-guide@0.3.1 is not in the image',
      );

      // The agent process: reads what it can, and tries every place another agent's skill could be.
      const probe = `
        const fs = require('fs');
        const attempt = (p) => { try { fs.readFileSync(p, 'utf8'); return 'read'; } catch (e) { return e.code; } };
        const list = (p) => { try { return fs.readdirSync(p).sort().join(','); } catch (e) { return e.code; } };
        console.log(JSON.stringify({
          own: attempt(process.argv[1] + '/crm-notes/SKILL.md'),
          image: list(process.argv[2]),
          otherInImage: attempt(process.argv[2] + '/style-guide/0.3.1/SKILL.md'),
          otherInHome: attempt(process.argv[1] + '/style-guide/SKILL.md'),
        }));`;
      const run = spawnSync(process.execPath, ['-e', probe, skillsHome, source], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH },
      });
      expect(run.status, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual({
        own: 'read',
        image: 'README.md,crm-notes',
        otherInImage: 'ENOENT',
        otherInHome: 'ENOENT',
      });
      expect(readFileSync(path.join(skillsHome, 'crm-notes', 'SKILL.md'), 'utf8')).toContain('crm');
    });
  });
});
