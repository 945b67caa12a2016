/**
 * The one rule for a skill reference (`name@version`), shared by the config schema (synth time), the
 * fleet's task environment and the agent runtime, so a reference the roster accepts is one the agent
 * installs. A skill is the folder `skills/<name>/<version>/` (with a SKILL.md) in this repository,
 * copied into the agent image.
 */

export const SKILL_NAME_MAX_LENGTH = 64;
const NAME = `[a-z][a-z0-9-]{0,${SKILL_NAME_MAX_LENGTH - 1}}`;
/** A semantic version (https://semver.org/spec/v2.0.0.html) without build metadata: it is a folder name. */
const NUMBER = '(?:0|[1-9]\\d*)';
const PRERELEASE_PART = '(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)';
const VERSION = `${NUMBER}\\.${NUMBER}\\.${NUMBER}(?:-${PRERELEASE_PART}(?:\\.${PRERELEASE_PART})*)?`;

export const SKILL_REF_PATTERN = new RegExp(`^(${NAME})@(${VERSION})$`);
export const SKILL_REF_RULE =
  `written name@version, e.g. crm-notes@1.2.0 or crm-notes@2.0.0-beta.1: a lowercase name (letters, digits, "-", ` +
  `at most ${SKILL_NAME_MAX_LENGTH} characters) and a semantic version`;

export interface SkillRef {
  readonly name: string;
  readonly version: string;
}

/** The name and version of a reference, or undefined when it breaks the rule. */
export function parseSkillRef(ref: string): SkillRef | undefined {
  const match = SKILL_REF_PATTERN.exec(ref);
  if (!match) return undefined;
  return { name: match[1], version: match[2] };
}
