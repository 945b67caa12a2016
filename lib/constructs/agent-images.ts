import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { SymlinkFollowMode } from 'aws-cdk-lib';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import { Construct } from 'constructs';
import { cliOf, type Provider } from '../../runtime/shared/providers';
import { compare } from '../util/order';

export const AGENT_IMAGE_DIRECTORY = path.join(__dirname, '..', '..', 'runtime', 'agent');

/** The CLIs an agent image can hold (the Dockerfile's AGENT_CLI build argument). */
export type { AgentCli } from '../../runtime/shared/providers';

/** What decides an agent's image: its provider's CLI and its skills. */
export interface AgentImageNeeds {
  readonly provider: Provider;
  readonly skills: readonly string[];
}

export interface AgentImagesProps {
  /** The image's build context (runtime/agent): Dockerfile, bundles, policies and `skills/<name>/<version>/`. */
  readonly directory: string;
  /** Every agent of the roster. */
  readonly agents: readonly AgentImageNeeds[];
  readonly platform: ecrAssets.Platform;
  /** How symbolic links in the context are copied (the context's `skills/` is a link to the repository's). */
  readonly followSymlinks?: SymlinkFollowMode;
}

/**
 * One agent image per (CLI, set of skills) the roster uses:
 * - only its own CLI, so each image stays under 300 MB compressed and a task pulls what it runs (README
 *   "Wake time");
 * - only its own skills (isolation claim 6, docs/isolation-claims.md): each build context holds only the
 *   skill folders of its set, so no process in an agent's container can read another agent's skills.
 * Images of one CLI differ in their last layer only (the skills); earlier layers are shared.
 */
export class AgentImages extends Construct {
  private readonly byKey = new Map<string, ecrAssets.DockerImageAsset>();

  constructor(scope: Construct, id: string, props: AgentImagesProps) {
    super(scope, id);
    const shipped = shippedSkills(path.join(props.directory, 'skills'));
    const needs = [...props.agents].sort((a, b) => compare(imageKey(a), imageKey(b)));
    for (const need of needs) {
      const key = imageKey(need);
      if (this.byKey.has(key)) continue;
      for (const ref of need.skills) {
        if (!shipped.has(ref))
          throw new Error(
            `skill ${ref} is not in ${path.join(props.directory, 'skills')} (expected <name>/<version>/SKILL.md)`,
          );
      }
      const cli = cliOf(need.provider);
      const skills = skillSetKey(need.skills);
      const constructId = `AgentImage${cli[0].toUpperCase()}${cli.slice(1)}${skills ? `Skills${createHash('sha256').update(skills).digest('hex').slice(0, 12)}` : ''}`;
      // On the stack (not under this construct): the ids of the per-CLI images are what earlier versions used.
      this.byKey.set(
        key,
        new ecrAssets.DockerImageAsset(scope, constructId, {
          directory: props.directory,
          platform: props.platform,
          buildArgs: { AGENT_CLI: cli },
          followSymlinks: props.followSymlinks,
          exclude: excludedSkills(shipped, need.skills),
        }),
      );
    }
  }

  /** Every image, in a stable order. */
  get all(): ecrAssets.DockerImageAsset[] {
    return [...this.byKey.values()];
  }

  /** The image with this provider's CLI and exactly these skills. */
  imageFor(need: AgentImageNeeds): ecrAssets.DockerImageAsset {
    const image = this.byKey.get(imageKey(need));
    if (!image)
      throw new Error(
        `no agent image for ${need.provider} with skills [${need.skills.join(', ')}]: pass every agent to AgentImages`,
      );
    return image;
  }
}

function skillSetKey(refs: readonly string[]): string {
  return [...new Set(refs)].sort(compare).join(',');
}

function imageKey(need: AgentImageNeeds): string {
  return `${cliOf(need.provider)}|${skillSetKey(need.skills)}`;
}

/** `name@version` of every `skills/<name>/<version>/SKILL.md` in the build context. */
export function shippedSkills(skillsDir: string): Set<string> {
  const refs = new Set<string>();
  const dirs = (dir: string) => readdirSync(dir).filter((entry) => statSync(path.join(dir, entry)).isDirectory());
  for (const name of dirs(skillsDir)) {
    for (const version of dirs(path.join(skillsDir, name))) {
      if (readdirSync(path.join(skillsDir, name, version)).includes('SKILL.md')) refs.add(`${name}@${version}`);
    }
  }
  return refs;
}

/** .dockerignore-style patterns that leave only the named skills in the context (whole folders for unnamed skills). */
function excludedSkills(shipped: ReadonlySet<string>, keep: readonly string[]): string[] {
  const kept = new Set(keep);
  const names = new Set([...shipped].map((ref) => ref.slice(0, ref.lastIndexOf('@'))));
  const out: string[] = [];
  for (const name of [...names].sort(compare)) {
    const versions = [...shipped].filter((ref) => ref.startsWith(`${name}@`));
    if (!versions.some((ref) => kept.has(ref))) out.push(`skills/${name}`);
    else
      for (const ref of versions.filter((r) => !kept.has(r))) out.push(`skills/${name}/${ref.slice(name.length + 1)}`);
  }
  return out;
}
