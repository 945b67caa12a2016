import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CfnResource, IPolicyValidationContextBeta1, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { compare } from '../util/order';
import { acknowledgements, characterClasses, references, substitution } from './shape-canonical';

type Json = unknown;

/**
 * Resource shapes: which resources of the synthesized templates are the same resource written for
 * different ids, so that a compliance check may evaluate one representative and stand for all of them.
 *
 * An *id scope* is a construct whose subtree belongs to one owner (a Fleet user: the vault and the
 * user's agent cells), declared with the strings that name the owner (user id, agent ids and their
 * construct-id forms). Its resources form a *group*. A group's canonical form is the JSON of all its
 * resources as they are in the template, with every acknowledgement on them or their ancestors, in which
 * each occurrence of a declared id, the stack's name and the group's own logical ids is replaced by a
 * placeholder. Two groups share a shape when their canonical forms are equal, their ids have the same
 * character classes position by position (so length and pattern limits judge them alike), and the
 * resources outside the group they reference are identical. The canonical form is checked to expand back
 * to each group's exact JSON, so two groups of one shape differ *only* in their ids. Any other difference
 * puts a group in its own shape; a group that anything outside it references is always its own shape.
 *
 * What the checks rely on: a rule's verdict on a resource depends on the resource, its acknowledgements
 * and the resources linked to it by references, not on which valid id is written where. Reviewers who
 * want every resource evaluated run synth with `-c cubicle:fullChecks=true`.
 */

const ID_SCOPES = new WeakMap<IConstruct, readonly string[]>();

/** Declares `scope` an id scope named by `ids` (longest first is not required; order is part of the shape). */
export function declareIdScope(scope: IConstruct, ids: readonly string[]): void {
  ID_SCOPES.set(scope, ids);
}

/** A resource a finding can name. */
export interface ResourceRef {
  readonly templatePath: string;
  readonly logicalId: string;
  readonly constructPath: string;
}

interface GroupResource extends ResourceRef {
  /** Path below the id scope, ids replaced. */
  readonly canonicalPath: string;
}

interface Group {
  readonly ownerPath: string;
  readonly templatePath: string;
  readonly resources: GroupResource[];
  shape: string;
  pinned: boolean;
  /** The canonical form expanded with this group's ids reproduced its JSON exactly. */
  roundTrip: boolean;
}

export interface ShapeSummary {
  readonly templates: number;
  readonly resources: number;
  readonly groups: number;
  readonly shapes: number;
  readonly pinnedGroups: number;
  /** Resources the checks evaluate: everything outside groups plus the representatives' resources. */
  readonly checkedResources: number;
  /** Every group's canonical form expanded back to its exact JSON. */
  readonly allRoundTrip: boolean;
  /** One line per shape: digest, representative, members, resources per member. */
  readonly byShape: readonly {
    readonly shape: string;
    readonly representative: string;
    readonly members: number;
    readonly resources: number;
  }[];
}

const NUL = '\u0000'; // never in JSON.stringify output (control characters are escaped): placeholders cannot collide

export class ShapeIndex {
  private readonly groups: Group[] = [];
  private readonly byConstructPath = new Map<string, { group: Group; canonicalPath: string }>();
  private readonly byLogicalId = new Map<string, { group: Group; canonicalPath: string }>();
  private readonly representatives = new Map<string, Group>();
  private readonly members = new Map<string, Group[]>();
  private readonly originalPaths = new Map<string, string>();
  private readonly duplicates = new Map<string, string[]>();
  private readonly stackNames = new Map<string, string>();
  private reduced?: string[];
  private reducedDir?: string;
  private totalResources = 0;
  /** Time it took to build this index (reported by the bench). */
  readonly buildMs: number;

  constructor(root: IConstruct, templatePaths: readonly string[]) {
    const started = performance.now();
    const byFile = new Map(templatePaths.map((p) => [path.basename(p), p]));
    const scoped = new Map<IConstruct, { stack: Stack; resources: CfnResource[] }>();
    const visit = (node: IConstruct, scope: IConstruct | undefined) => {
      const here = ID_SCOPES.has(node) ? node : scope;
      if (here && CfnResource.isCfnResource(node)) {
        const entry = scoped.get(here) ?? { stack: Stack.of(node), resources: [] };
        entry.resources.push(node);
        scoped.set(here, entry);
      }
      for (const child of node.node.children) visit(child, here);
    };
    visit(root, undefined);

    /* eslint-disable @typescript-eslint/no-explicit-any -- a synthesized CloudFormation template, read as JSON */
    const templates = new Map<
      string,
      { json: any; groups: Group[]; stackName: string; scopes: [IConstruct, CfnResource[]][] }
    >();
    /* eslint-enable @typescript-eslint/no-explicit-any */
    for (const [scope, { stack, resources }] of scoped) {
      const templatePath = byFile.get(stack.templateFile);
      if (!templatePath) continue;
      const t = templates.get(templatePath) ?? { json: undefined, groups: [], stackName: stack.stackName, scopes: [] };
      t.scopes.push([scope, resources]);
      templates.set(templatePath, t);
    }
    for (const templatePath of [...byFile.values()].sort()) {
      const t = templates.get(templatePath);
      if (!t) {
        this.totalResources += Object.keys(readJson(templatePath).Resources ?? {}).length;
        continue;
      }
      t.json = readJson(templatePath);
      this.stackNames.set(templatePath, t.stackName);
      this.totalResources += Object.keys(t.json.Resources ?? {}).length;
      this.indexTemplate(templatePath, t.json, t.stackName, t.scopes);
    }
    for (const group of this.groups) {
      const list = this.members.get(group.shape) ?? [];
      list.push(group);
      this.members.set(group.shape, list);
      if (!this.representatives.has(group.shape)) this.representatives.set(group.shape, group);
    }
    this.buildMs = performance.now() - started;
  }

  /* eslint-disable @typescript-eslint/no-explicit-any -- a synthesized CloudFormation template, read as JSON */
  private indexTemplate(
    templatePath: string,
    json: any,
    stackName: string,
    scopes: [IConstruct, CfnResource[]][],
  ): void {
    const resources: Record<string, any> = json.Resources ?? {};
    /* eslint-enable @typescript-eslint/no-explicit-any */
    const ownerOf = new Map<string, Group>();
    const groups: { group: Group; ids: readonly string[]; nodes: CfnResource[] }[] = [];
    for (const [scope, nodes] of scopes.sort(([a], [b]) => compare(a.node.path, b.node.path))) {
      const ids = ID_SCOPES.get(scope)!;
      const substitute = substitution([
        ...ids.map((id, i) => [id, `${NUL}${i}${NUL}`] as [string, string]),
        [stackName, `${NUL}S${NUL}`],
      ]);
      const prefix = `${scope.node.path}/`;
      const groupResources = nodes
        .map((node) => {
          const logicalId = logicalIdOf(node);
          return {
            templatePath,
            logicalId,
            constructPath: node.node.path,
            canonicalPath: substitute(node.node.path.slice(prefix.length)),
          };
        })
        .sort((a, b) => compare(a.canonicalPath, b.canonicalPath));
      const group: Group = {
        ownerPath: scope.node.path,
        templatePath,
        resources: groupResources,
        shape: '',
        pinned: false,
        roundTrip: false,
      };
      for (const r of groupResources) ownerOf.set(r.logicalId, group);
      groups.push({ group, ids, nodes });
    }
    // Anything outside a group that references into it pins the group (its context is not shared).
    const inbound = (from: Group | undefined, value: Json) => {
      for (const target of references(value)) {
        const owner = ownerOf.get(target);
        if (owner && owner !== from) owner.pinned = true;
      }
    };
    for (const [logicalId, resource] of Object.entries(resources)) inbound(ownerOf.get(logicalId), resource);
    inbound(undefined, json.Outputs ?? {});

    for (const { group, ids, nodes } of groups) {
      const acks = new Map(nodes.map((n) => [n.node.path, acknowledgements(n)]));
      const own = new Set(group.resources.map((r) => r.logicalId));
      const body = JSON.stringify(
        group.resources.map((r) => [r.canonicalPath, resources[r.logicalId] ?? null, acks.get(r.constructPath)]),
      );
      const pairs: [string, string][] = [
        ...group.resources.map((r) => [r.logicalId, `${NUL}L${r.canonicalPath}${NUL}`] as [string, string]),
        ...ids.map((id, i) => [id, `${NUL}${i}${NUL}`] as [string, string]),
        [stackName, `${NUL}S${NUL}`],
      ];
      const canonical = substitution(pairs)(body);
      // A resource the template does not hold under the expected id would make the group look empty.
      if (group.resources.some((r) => !(r.logicalId in resources))) group.pinned = true;
      group.roundTrip = substitution(pairs.map(([a, b]) => [b, a]))(canonical) === body;
      // Resources outside the group it points at, with what they point at: part of its context.
      const external = new Map<string, Json>();
      const pending = group.resources.flatMap((r) => references(resources[r.logicalId]));
      while (pending.length > 0) {
        const target = pending.pop()!;
        if (own.has(target) || external.has(target)) continue;
        if (ownerOf.has(target)) group.pinned = true;
        external.set(target, resources[target] ?? null);
        pending.push(...references(resources[target]));
      }
      const context = substitution([[stackName, `${NUL}S${NUL}`]])(
        JSON.stringify([...external].sort(([a], [b]) => compare(a, b))),
      );
      group.shape =
        group.pinned || !group.roundTrip
          ? `own:${templatePath}#${group.ownerPath}`
          : createHash('sha256')
              .update(`${ids.map(characterClasses).join(',')}\n${canonical}\n${context}`)
              .digest('hex');
      this.groups.push(group);
      for (const r of group.resources) {
        this.byConstructPath.set(r.constructPath, { group, canonicalPath: r.canonicalPath });
        this.byLogicalId.set(`${templatePath}\n${r.logicalId}`, { group, canonicalPath: r.canonicalPath });
      }
    }
  }

  /** Whether a check evaluates this resource (outside every group, or in its shape's representative). */
  isChecked(node: CfnResource): boolean {
    const entry = this.byConstructPath.get(node.node.path);
    return !entry || this.representatives.get(entry.group.shape) === entry.group;
  }

  /** The resources a finding on `constructPath` stands for: itself, or every member of its shape. */
  membersByConstructPath(constructPath: string): string[] {
    const entry = this.byConstructPath.get(constructPath);
    if (!entry) return [constructPath];
    return this.members
      .get(entry.group.shape)!
      .map((g) => g.resources.find((r) => r.canonicalPath === entry.canonicalPath)!.constructPath);
  }

  /** Same, by template and logical id (template paths of the original assembly). */
  membersByLogicalId(templatePath: string, logicalId: string): ResourceRef[] {
    const entry = this.byLogicalId.get(`${templatePath}\n${logicalId}`);
    if (!entry) return this.sameTemplates(templatePath).map((t) => ({ templatePath: t, logicalId, constructPath: '' }));
    return this.members
      .get(entry.group.shape)!
      .map((g) => g.resources.find((r) => r.canonicalPath === entry.canonicalPath)!);
  }

  /**
   * The templates the checks read: each with the groups that are not their shape's representative taken
   * out (written once, to a temporary directory, under the original file names; nothing outside a group
   * references into it, so every remaining reference resolves). A reduced template identical to an earlier
   * one but for its stack's name (a shard whose users are all represented elsewhere: only its file system
   * is left) is not read again: its findings are the earlier one's, reported on it.
   */
  checkedTemplates(templatePaths: readonly string[]): string[] {
    if (!this.reduced) {
      this.reduced = [];
      const seen = new Map<string, string>();
      for (const templatePath of templatePaths) {
        if (!this.groups.some((g) => g.templatePath === templatePath)) {
          this.reduced.push(templatePath);
          continue;
        }
        this.reducedDir ??= mkdtempSync(path.join(tmpdir(), 'cubicle-shapes-'));
        const json = readJson(templatePath);
        for (const group of this.groups) {
          if (group.templatePath !== templatePath || this.representatives.get(group.shape) === group) continue;
          for (const r of group.resources) delete json.Resources[r.logicalId];
        }
        const text = JSON.stringify(json);
        const stackName = this.stackNames.get(templatePath)!;
        const canonical = substitution([[stackName, `${NUL}S${NUL}`]])(text);
        const hasRepresentative = this.groups.some(
          (g) => g.templatePath === templatePath && this.representatives.get(g.shape) === g,
        );
        const earlier = hasRepresentative ? undefined : seen.get(canonical);
        if (earlier) {
          this.duplicates.set(earlier, [...(this.duplicates.get(earlier) ?? []), templatePath]);
          continue;
        }
        if (!hasRepresentative) seen.set(canonical, templatePath);
        const reduced = path.join(this.reducedDir, path.basename(templatePath));
        writeFileSync(reduced, text);
        this.originalPaths.set(reduced, templatePath);
        this.reduced.push(reduced);
      }
    }
    return this.reduced;
  }

  /** The original template of a checked one (reduced or not). */
  originalTemplatePath(checked: string): string {
    return this.originalPaths.get(checked) ?? checked;
  }

  /** The templates a finding in `templatePath` (original) stands for: itself and the identical ones not read. */
  sameTemplates(templatePath: string): string[] {
    return [templatePath, ...(this.duplicates.get(templatePath) ?? [])];
  }

  dispose(): void {
    if (this.reducedDir) rmSync(this.reducedDir, { recursive: true, force: true });
    this.reducedDir = undefined;
    this.reduced = undefined;
    this.originalPaths.clear();
    this.duplicates.clear();
  }

  summary(): ShapeSummary {
    const inGroups = this.groups.reduce((n, g) => n + g.resources.length, 0);
    const representativeResources = [...this.representatives.values()].reduce((n, g) => n + g.resources.length, 0);
    return {
      templates: new Set(this.groups.map((g) => g.templatePath)).size,
      resources: this.totalResources,
      groups: this.groups.length,
      shapes: this.representatives.size,
      pinnedGroups: this.groups.filter((g) => g.pinned).length,
      checkedResources: this.totalResources - inGroups + representativeResources,
      allRoundTrip: this.groups.every((g) => g.roundTrip),
      byShape: [...this.representatives].map(([shape, rep]) => ({
        shape: shape.startsWith('own:') ? 'own' : shape.slice(0, 12),
        representative: rep.ownerPath,
        members: this.members.get(shape)!.length,
        resources: rep.resources.length,
      })),
    };
  }
}

const INDEXES = new WeakMap<IConstruct, ShapeIndex>();

/** The index for a validation run, built once and shared by every plugin of the run. */
export function shapeIndexFor(context: IPolicyValidationContextBeta1): ShapeIndex {
  const root = (context as { appConstruct?: IConstruct }).appConstruct;
  if (!root) throw new Error('the validation context has no construct tree (aws-cdk-lib >= 2.262 provides it)');
  let index = INDEXES.get(root);
  if (!index) {
    const created = new ShapeIndex(root, context.templatePaths);
    process.once('exit', () => created.dispose());
    INDEXES.set(root, created);
    index = created;
  }
  return index;
}

/** The index of the last validation of `root`, if its checks ran scoped (for reports and the bench). */
export function shapeIndexOf(root: IConstruct): ShapeIndex | undefined {
  return INDEXES.get(root);
}

/**
 * A resource's logical id without resolving its token (Stack.resolve is a tenth of the index's time at
 * 5,000 pairs): the override if one was set, else the id the stack allocates. A wrong id cannot go
 * unnoticed: the group is then kept apart (see indexTemplate).
 */
function logicalIdOf(node: CfnResource): string {
  return (node as unknown as { _logicalIdOverride?: string })._logicalIdOverride ?? Stack.of(node).getLogicalId(node);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a synthesized CloudFormation template, read as JSON
function readJson(file: string): any {
  return JSON.parse(readFileSync(file, 'utf8'));
}
