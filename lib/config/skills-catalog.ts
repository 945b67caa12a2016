import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parseSkillRef } from '../../runtime/shared/skills';
import { UserError } from './errors';
import { didYouMean } from './suggest';

/**
 * The skills this repository ships: `skills/<name>/<version>/SKILL.md` (plus any files the skill needs),
 * copied into the agent image. Synth refuses an agent naming a skill that is not here, since the agent
 * would otherwise stop at start (exit 78) when it cannot install it.
 */

/** The repository's skills folder (the agent image's build context links to it). */
export const SKILLS_DIRECTORY = path.join(__dirname, '..', '..', 'skills');

export interface SkillCatalog {
  /** The folder, as shown in messages (`skills` for the repository's own). */
  readonly label: string;
  /** Skill name → versions that have a SKILL.md, in version order. */
  readonly versions: ReadonlyMap<string, readonly string[]>;
}

export function readSkillCatalog(directory: string = SKILLS_DIRECTORY): SkillCatalog {
  const label = directory === SKILLS_DIRECTORY ? 'skills' : directory;
  const versions = new Map<string, string[]>();
  for (const name of subfolders(directory)) {
    const found = subfolders(path.join(directory, name)).filter(
      (version) => parseSkillRef(`${name}@${version}`) && existsSync(path.join(directory, name, version, 'SKILL.md')),
    );
    if (found.length > 0) versions.set(name, found.sort(byVersion));
  }
  return { label, versions };
}

/** Why a well-formed reference is not in the catalog, with what to do; undefined when it is there. */
export function missingSkill(catalog: SkillCatalog, ref: string): string | undefined {
  const parsed = parseSkillRef(ref);
  if (!parsed) return undefined;
  const { label } = catalog;
  const versions = catalog.versions.get(parsed.name);
  if (!versions) {
    const names = [...catalog.versions.keys()].sort();
    return (
      `skill "${ref}": ${label}/ has no skill "${parsed.name}"${didYouMean(parsed.name, names)} ` +
      `(available: ${names.length ? names.join(', ') : 'none'}); add ${label}/${parsed.name}/${parsed.version}/SKILL.md or name an available skill`
    );
  }
  if (versions.includes(parsed.version)) return undefined;
  return (
    `skill "${ref}": ${label}/${parsed.name}/ has version${versions.length === 1 ? '' : 's'} ${versions.join(', ')}, not ${parsed.version}; ` +
    `add ${label}/${parsed.name}/${parsed.version}/SKILL.md or use ${parsed.name}@${versions[versions.length - 1]}`
  );
}

/**
 * The agent image's build context reaches the skills through the link `runtime/agent/skills` → `../../skills`.
 * A checkout without symbolic links (Git for Windows without core.symlinks) has a small text file there
 * instead, and the image would ship no skills: refuse to synthesize it.
 */
export function checkImageSkillsLink(imageDirectory: string, skillsDirectory: string = SKILLS_DIRECTORY): void {
  const link = path.join(imageDirectory, 'skills');
  let target: string | undefined;
  try {
    target = statSync(link).isDirectory() ? realpathSync(link) : undefined;
  } catch {
    target = undefined;
  }
  if (target !== realpathSync(skillsDirectory)) {
    throw new UserError(
      `${path.relative(process.cwd(), link) || link} must be a symbolic link to ../../skills (the agent image copies the skills through it). ` +
        'Restore it with `git checkout -- runtime/agent/skills`; on Windows first run `git config core.symlinks true` (with Developer Mode on).',
    );
  }
}

function subfolders(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory).filter((entry) => statSync(path.join(directory, entry)).isDirectory());
}

/** Semantic-version order (a release after its pre-releases); pre-release tags compared as text. */
function byVersion(a: string, b: string): number {
  const [aCore, aPre] = splitVersion(a);
  const [bCore, bPre] = splitVersion(b);
  for (let i = 0; i < 3; i++) if (aCore[i] !== bCore[i]) return aCore[i] - bCore[i];
  if (aPre === bPre) return 0;
  if (aPre === undefined) return 1;
  if (bPre === undefined) return -1;
  return aPre.localeCompare(bPre, 'en', { numeric: true });
}

function splitVersion(version: string): [number[], string | undefined] {
  const dash = version.indexOf('-');
  const core = dash < 0 ? version : version.slice(0, dash);
  return [core.split('.').map(Number), dash < 0 ? undefined : version.slice(dash + 1)];
}
