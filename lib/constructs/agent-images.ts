import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { SymlinkFollowMode } from 'aws-cdk-lib';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import { Construct } from 'constructs';

export interface AgentImagesProps {
  /** The image's build context (runtime/agent): Dockerfile, bundles, policies and `skills/<name>/<version>/`. */
  readonly directory: string;
  /** Every agent's skills (`name@version`), from the roster. */
  readonly skillSets: readonly (readonly string[])[];
  readonly platform: ecrAssets.Platform;
  /** How symbolic links in the context are copied (the context's `skills/` is a link to the repository's). */
  readonly followSymlinks?: SymlinkFollowMode;
}

/**
 * One agent image per distinct set of skills (isolation claim 6): each build context holds only the
 * skill folders of its set, so an agent's container holds only the skills it names and no process in
 * it can read another agent's. The images differ in their last layer only; every layer before the
 * skills is shared in the asset repository.
 */
export class AgentImages extends Construct {
  /** The image without skills (construct id `AgentImage`, as before images were per skill set). */
  readonly base: ecrAssets.DockerImageAsset;
  private readonly bySet = new Map<string, ecrAssets.DockerImageAsset>();

  constructor(scope: Construct, id: string, props: AgentImagesProps) {
    super(scope, id);
    const shipped = shippedSkills(path.join(props.directory, 'skills'));
    const image = (refs: readonly string[], constructId: string) =>
      new ecrAssets.DockerImageAsset(scope, constructId, {
        directory: props.directory,
        platform: props.platform,
        followSymlinks: props.followSymlinks,
        exclude: excludedSkills(shipped, refs),
      });
    this.base = image([], 'AgentImage');
    this.bySet.set(setKey([]), this.base);
    for (const refs of props.skillSets) {
      const key = setKey(refs);
      if (this.bySet.has(key)) continue;
      for (const ref of refs) {
        if (!shipped.has(ref)) throw new Error(`skill ${ref} is not in ${path.join(props.directory, 'skills')} (expected <name>/<version>/SKILL.md)`);
      }
      this.bySet.set(key, image(refs, `AgentImageSkills${createHash('sha256').update(key).digest('hex').slice(0, 12)}`));
    }
  }

  /** Every image, the base one first. */
  get all(): ecrAssets.DockerImageAsset[] {
    return [...this.bySet.values()];
  }

  /** The image holding exactly these skills. */
  imageFor(skills: readonly string[]): ecrAssets.DockerImageAsset {
    const image = this.bySet.get(setKey(skills));
    if (!image) throw new Error(`no agent image for skills [${skills.join(', ')}]: pass every agent's skills to AgentImages`);
    return image;
  }
}

function setKey(refs: readonly string[]): string {
  return [...new Set(refs)].sort().join(',');
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
  for (const name of [...names].sort()) {
    const versions = [...shipped].filter((ref) => ref.startsWith(`${name}@`));
    if (!versions.some((ref) => kept.has(ref))) out.push(`skills/${name}`);
    else for (const ref of versions.filter((r) => !kept.has(r))) out.push(`skills/${name}/${ref.slice(name.length + 1)}`);
  }
  return out;
}
