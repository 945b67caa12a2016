import { cpSync, existsSync, mkdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parseSkillRef, SKILL_REF_RULE } from '../../shared/skills';

/**
 * Copies exactly the named skills (`name@version`) from the image's skills folder into each
 * directory where a CLI looks for skills. Anything not named is never copied, so an agent cannot
 * read another agent's skills from its own home.
 */
export function installSkills(skills: readonly string[], source: string, destinations: readonly string[]): string[] {
  const installed: string[] = [];
  for (const ref of skills) {
    const parsed = parseSkillRef(ref);
    if (!parsed) throw new Error(`skill ${ref} is not ${SKILL_REF_RULE}`);
    const { name, version } = parsed;
    const from = path.join(source, name, version);
    if (!existsSync(path.join(from, 'SKILL.md')) || !statSync(from).isDirectory()) {
      throw new Error(
        `skill ${ref} is not in the image (expected ${path.join(name, version, 'SKILL.md')} under the skills folder)`,
      );
    }
    for (const destination of destinations) {
      mkdirSync(destination, { recursive: true });
      cpSync(from, path.join(destination, name), { recursive: true, dereference: true, force: true });
    }
    installed.push(ref);
  }
  return installed;
}
