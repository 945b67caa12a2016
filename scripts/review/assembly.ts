import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { CfnResolver } from './cfn-intrinsics';
import { ResourceJson, TemplateJson } from './templates';

/**
 * A synthesized Cubicle cloud assembly as the review reads it: every stack's template and metadata
 * (construct paths, acknowledgements), with intrinsics resolved to the values a deployment would see.
 * Everything the review says comes from here, never from a config file.
 */

/** The metadata type under which `Validations.of(x).acknowledge(...)` records a rule id and its reason. */
export const ACKNOWLEDGED_RULES = 'aws:cdk:acknowledged-rules';

export class AssemblyError extends Error {}

export interface StackArtifact {
  readonly name: string;
  readonly account: string;
  readonly region: string;
  readonly templateFile: string;
  readonly template: TemplateJson;
  /** Construct path → metadata entries, as in `<stack>.metadata.json`. */
  readonly metadata: Readonly<Record<string, readonly { type: string; data?: unknown }[]>>;
}

/** One resource of one stack. */
export interface ResourceRef {
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
  readonly resource: ResourceJson;
}

export interface Acknowledgement {
  readonly stack: string;
  /** Construct path the acknowledgement sits on; it covers every resource below it. */
  readonly constructPath: string;
  /** As recorded, e.g. `Annotation::AwsSolutions-IAM5[Resource::*]` or `CloudFormation-Validate::W3010`. */
  readonly ruleId: string;
  readonly reason: string;
  /** Logical ids of the resources it covers. */
  readonly logicalIds: readonly string[];
}

export class Assembly {
  readonly stacks: readonly StackArtifact[];
  /** The deployment's name (`<name>-Platform` and friends). */
  readonly deployment: string;
  readonly account: string;
  /** Region of the Platform stack. */
  readonly region: string;
  readonly resolver: CfnResolver;
  private readonly byName: ReadonlyMap<string, StackArtifact>;
  private readonly paths = new Map<string, Map<string, string>>();
  private readonly resolved = new Map<string, any>();

  constructor(
    readonly dir: string,
    stacks: StackArtifact[],
  ) {
    this.stacks = [...stacks].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.byName = new Map(this.stacks.map((s) => [s.name, s]));
    const platform = this.stacks.find((s) => s.name.endsWith('-Platform'));
    if (!platform) {
      throw new AssemblyError(
        `${dir} is not a Cubicle cloud assembly: no stack named <name>-Platform (stacks: ${this.stacks.map((s) => s.name).join(', ') || 'none'})`,
      );
    }
    this.deployment = platform.name.slice(0, -'-Platform'.length);
    this.account = platform.account;
    this.region = platform.region;
    this.resolver = new CfnResolver(new Map(this.stacks.map((s) => [s.name, s.template])), {
      account: this.account,
      regionOf: (name) => this.byName.get(name)?.region ?? this.region,
    });
  }

  stack(name: string): StackArtifact {
    const stack = this.byName.get(name);
    if (!stack) throw new AssemblyError(`no stack ${name} in ${this.dir}`);
    return stack;
  }

  /** Every resource, or those of the given types, in stack then logical-id order. */
  resources(...types: string[]): ResourceRef[] {
    const out: ResourceRef[] = [];
    for (const stack of this.stacks) {
      for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {})) {
        if (types.length === 0 || types.includes(resource.Type))
          out.push({ stack: stack.name, logicalId, type: resource.Type, resource });
      }
    }
    return out;
  }

  /** A resource's properties with every intrinsic resolved (cached). */
  props(ref: Pick<ResourceRef, 'stack' | 'logicalId'>): any {
    const key = `${ref.stack}\u0000${ref.logicalId}`;
    if (!this.resolved.has(key)) {
      const raw = this.stack(ref.stack).template.Resources[ref.logicalId]?.Properties ?? {};
      this.resolved.set(key, this.resolver.resolve(ref.stack, raw));
    }
    return this.resolved.get(key);
  }

  /** Resolves any template value in the context of a stack. */
  resolve(stack: string, value: unknown): any {
    return this.resolver.resolve(stack, value);
  }

  /** Construct path of a resource (from the stack's metadata), or the logical id when unknown. */
  constructPath(stack: string, logicalId: string): string {
    let byId = this.paths.get(stack);
    if (!byId) {
      byId = new Map();
      for (const [constructPath, entries] of Object.entries(this.stack(stack).metadata)) {
        for (const entry of entries)
          if (entry.type === 'aws:cdk:logicalId') byId.set(String(entry.data), constructPath);
      }
      this.paths.set(stack, byId);
    }
    return byId.get(logicalId) ?? `/${stack}/${logicalId}`;
  }

  /** "stack LogicalId (construct/path)": how the report names a resource. */
  label(ref: Pick<ResourceRef, 'stack' | 'logicalId'>): string {
    return `${ref.stack} ${ref.logicalId}`;
  }

  /** Every acknowledgement of every stack, with the resources it covers. */
  acknowledgements(): Acknowledgement[] {
    const out: Acknowledgement[] = [];
    for (const stack of this.stacks) {
      const resourcePaths = Object.keys(stack.template.Resources ?? {}).map(
        (id) => [id, this.constructPath(stack.name, id)] as const,
      );
      for (const [constructPath, entries] of Object.entries(stack.metadata)) {
        for (const entry of entries) {
          if (entry.type !== ACKNOWLEDGED_RULES || typeof entry.data !== 'object' || entry.data === null) continue;
          const covered = resourcePaths
            .filter(([, p]) => p === constructPath || p.startsWith(`${constructPath}/`))
            .map(([id]) => id);
          for (const [ruleId, reason] of Object.entries(entry.data as Record<string, string>)) {
            out.push({ stack: stack.name, constructPath, ruleId, reason: String(reason), logicalIds: covered });
          }
        }
      }
    }
    return out;
  }
}

/** An assembly of templates already in memory (no metadata: construct paths fall back to logical ids). */
export function assemblyFromTemplates(
  templates: ReadonlyMap<string, TemplateJson>,
  env: { readonly account: string; readonly regionOf: (stackName: string) => string },
): Assembly {
  const stacks = [...templates].map(([name, template]) => ({
    name,
    account: env.account,
    region: env.regionOf(name),
    templateFile: `${name}.template.json`,
    template: { ...template, Resources: template.Resources ?? {} },
    metadata: {},
  }));
  return new Assembly('(templates in memory)', stacks);
}

/** Reads a cloud assembly directory (`cdk.out`): its manifest, and each stack's template and metadata. */
export function readAssembly(dir: string): Assembly {
  const manifestPath = path.join(dir, 'manifest.json');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new AssemblyError(`no cloud assembly at ${dir}: run npx cdk synth first, or pass --assembly DIR`);
  }
  if (!existsSync(manifestPath))
    throw new AssemblyError(`${dir} is not a cloud assembly: it has no manifest.json (run npx cdk synth)`);
  const manifest = readJson(manifestPath) as { artifacts?: Record<string, ManifestArtifact> };
  const stacks: StackArtifact[] = [];
  for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type !== 'aws:cloudformation:stack') continue;
    const env = /^aws:\/\/([^/]+)\/(.+)$/.exec(artifact.environment ?? '');
    if (!env)
      throw new AssemblyError(`${manifestPath}: stack ${id} has no explicit environment (aws://ACCOUNT/REGION)`);
    const templateFile = artifact.properties?.templateFile ?? `${id}.template.json`;
    const metadata = artifact.additionalMetadataFile
      ? (readJson(path.join(dir, artifact.additionalMetadataFile)) as StackArtifact['metadata'])
      : (artifact.metadata ?? {});
    const template = readJson(path.join(dir, templateFile)) as TemplateJson;
    stacks.push({
      name: artifact.properties?.stackName ?? artifact.displayName ?? id,
      account: env[1],
      region: env[2],
      templateFile,
      template: { ...template, Resources: template.Resources ?? {} },
      metadata,
    });
  }
  return new Assembly(dir, stacks);
}

interface ManifestArtifact {
  type: string;
  environment?: string;
  displayName?: string;
  properties?: { templateFile?: string; stackName?: string };
  additionalMetadataFile?: string;
  metadata?: StackArtifact['metadata'];
}

function readJson(file: string): unknown {
  if (!existsSync(file)) throw new AssemblyError(`${file} is missing`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new AssemblyError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
}
