import { CfnElement, CfnResource, type IResolvable, type IResolveContext, Stack, Token } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { references } from '../aspects/shape-canonical';

/**
 * References the Fleet's cells make by the thousand, rendered the way CDK renders them but without its reference
 * machinery (issue 15: at 5,000 pairs CDK's attribute tokens and cross-stack references were ~6 s of a ~22 s synth
 * without checks, `npm run bench:synth`), and the cells themselves rendered apart from CDK's rendering
 * (renderedApart). test/fleet/intrinsics.test.ts checks what each one renders and that a misuse
 * fails synth with a line naming it.
 */

/**
 * `{ Ref }` of a resource in the same stack. A CDK attribute token (`resource.ref`) is a CfnReference: CDK scans for
 * it, then looks up the consumer's stack and the logical id at every use. A resource of a Fleet stack has its logical
 * id from its construct path (CubicleStack.allocateLogicalId), so it can be written at once.
 */
export function refWithinStack(resource: CfnResource): string {
  return withinStack(resource, 'Ref', (logicalId) => ({ Ref: logicalId }));
}

/** `{ "Fn::GetAtt": [logicalId, attribute] }` of a resource in the same stack (see refWithinStack). */
export function attributeWithinStack(resource: CfnResource, attribute: string): string {
  return withinStack(resource, attribute, (logicalId) => ({ 'Fn::GetAtt': [logicalId, attribute] }));
}

/** One token per resource and attribute, however many cells name it (a user's key: each secret, alias and cell). */
const made = new WeakMap<CfnResource, Map<string, string>>();

function withinStack(resource: CfnResource, attribute: string, render: (logicalId: string) => object): string {
  let byAttribute = made.get(resource);
  if (!byAttribute) made.set(resource, (byAttribute = new Map()));
  let token = byAttribute.get(attribute);
  if (token === undefined) {
    token = Token.asString(new WithinStack(resource, attribute, render));
    byAttribute.set(attribute, token);
  }
  return token;
}

class WithinStack implements IResolvable {
  readonly creationStack: string[] = [];
  private readonly stack: Stack;
  private readonly logicalId: string;
  private readonly rendered: object;
  private checked = false;

  constructor(
    private readonly resource: CfnResource,
    private readonly attribute: string,
    render: (logicalId: string) => object,
  ) {
    this.stack = Stack.of(resource);
    this.logicalId = this.stack.getLogicalId(resource);
    this.rendered = render(this.logicalId);
  }

  resolve(context: IResolveContext): object {
    // Not a CfnReference, so CDK would not make an output for another stack: such a use would deploy a dangling Ref.
    const consumer = Stack.of(context.scope);
    if (consumer !== this.stack) {
      throw new Error(
        `${this.resource.node.path} (${this.attribute}) is referenced from ${consumer.stackName}: refWithinStack and attributeWithinStack are for references within one stack`,
      );
    }
    // The id was read when the token was made; an override or rename since would leave this one stale.
    if (!this.checked) {
      const now = context.resolve(this.resource.logicalId);
      if (now !== this.logicalId) {
        throw new Error(
          `${this.resource.node.path} was renamed to ${now} after a reference to it was made as ${this.logicalId}`,
        );
      }
      this.checked = true;
    }
    // The same object at every use, as CDK's own Intrinsic returns it: the resolver copies what it renders.
    return this.rendered;
  }

  toString(): string {
    return Token.asString(this);
  }
}

/**
 * One cross-stack value (a CDK token that names a resource of another stack) as every cell of one Fleet stack uses
 * it: CDK renders it once for this stack instead of once per use.
 *
 * CDK resolves a cross-stack reference twice per use: in the reference scan before synthesis (which creates the
 * producer's output; one sighting per consuming stack is enough, the rest repeat it) and in the template. Here the
 * scan sees each value once, in the stack's SharedValueSightings (so a value asked for must be used: ask for it
 * where a resource takes it), and the template's rendering is kept from the first use that renders the consumer's
 * side (`Fn::GetStackOutput`, or `Fn::ImportValue` for a strong reference). An earlier resolution, as a cdk-nag rule
 * makes before the references are assigned, renders the producer's side; it is returned as it is, never kept.
 * https://github.com/aws/aws-cdk/blob/main/packages/aws-cdk-lib/README.md#reference-strength
 */
export function sharedWithinStack(stack: Stack, value: string): string {
  if (!Token.isUnresolved(value)) return value;
  let byValue = shared.get(stack);
  if (!byValue) {
    shared.set(stack, (byValue = new Map()));
    new SharedValueSightings(stack, byValue);
  }
  let token = byValue.get(value);
  if (token === undefined) {
    token = Token.asString(new SharedCrossStackValue(stack, value));
    byValue.set(value, token);
  }
  return token;
}

/** One shared token per stack and value, however often a value is asked for (an image URI: once per cell). */
const shared = new WeakMap<Stack, Map<string, string>>();

class SharedCrossStackValue implements IResolvable {
  readonly creationStack: string[] = [];
  private scanned: unknown;
  private rendered: unknown;

  constructor(
    private readonly stack: Stack,
    private readonly value: string,
  ) {}

  resolve(context: IResolveContext): unknown {
    const consumer = Stack.of(context.scope);
    if (consumer !== this.stack) {
      throw new Error(`a value shared within ${this.stack.stackName} is referenced from ${consumer.stackName}`);
    }
    // `preparing` is true only in CDK's reference scan (findTokens); its result is not rendered anywhere.
    if (context.preparing) return (this.scanned ??= context.resolve(this.value));
    if (this.rendered !== undefined) return this.rendered;
    const resolved = context.resolve(this.value);
    const text = JSON.stringify(resolved);
    if (text.includes('"Fn::GetStackOutput"') || text.includes('"Fn::ImportValue"')) this.rendered = resolved;
    return resolved;
  }

  toString(): string {
    return Token.asString(this);
  }
}

/**
 * Where CDK's reference scan sees a Fleet stack's shared values: an element of the stack that renders nothing in the
 * template. The cells that use the values are outside the scan (renderedApart).
 */
class SharedValueSightings extends CfnElement {
  constructor(
    stack: Stack,
    private readonly values: ReadonlyMap<string, string>,
  ) {
    super(stack, 'SharedValueSightings');
  }

  _toCloudFormation(): object {
    // `preparing` is set by CDK's findTokens only: the reference scan, and property metadata under CDK_DEBUG=true.
    const sightings: IResolvable = {
      creationStack: [],
      resolve: (context: IResolveContext) => (context.preparing ? [...this.values.values()] : {}),
    };
    return sightings;
  }
}

/**
 * Takes every resource under `scope` out of CDK's rendering: CDK's reference scan and its template see nothing of
 * them, and their stack renders each one once, itself, into the same template (templateWithApart).
 *
 * CDK resolves every element of the app to find the references between stacks, then resolves each again for its
 * template, and then resolves the whole template once more. For a Fleet stack that is three walks of every cell (at
 * 5,000 pairs ~3 s of CPU in the scan and ~2 s in the last walk, of ~22 s). A cell needs neither: its references
 * within its stack are refWithinStack and attributeWithinStack, which CDK needs no scan for, and its values of other
 * stacks are sharedWithinStack, which the scan sees in the stack's SharedValueSightings; what a cell renders is
 * already resolved, so the last walk only copies it. Any other value of another stack in a cell would render the
 * producer's `Ref` or `Fn::GetAtt`, which the stack refuses when it renders its template
 * (assertReferencesWithinTemplate) instead of deploying a template CloudFormation rejects.
 */
export function renderedApart(scope: Construct): void {
  const stack = Stack.of(scope);
  let resources = apart.get(stack);
  if (!resources) {
    const rendered: Apart[] = (resources = []);
    apart.set(stack, rendered);
    // Stack's template renderer is protected; the stack's synthesizer calls it on the instance.
    const renders = stack as unknown as { _toCloudFormation(): object };
    const renderByCdk = renders._toCloudFormation.bind(stack);
    renders._toCloudFormation = () => templateWithApart(stack, rendered, renderByCdk);
  }
  for (const construct of scope.node.findAll()) {
    if (!CfnResource.isCfnResource(construct)) continue;
    resources.push({ resource: construct, render: construct._toCloudFormation.bind(construct) });
    construct._toCloudFormation = () => ({});
  }
}

interface Apart {
  readonly resource: CfnResource;
  /** The resource's own `_toCloudFormation`. */
  readonly render: () => object;
}

/** By stack, in construct order: the resources renderedApart took out of CDK's rendering. */
const apart = new WeakMap<Stack, Apart[]>();

/**
 * `stack`'s template: what CDK renders (`renderByCdk`, the stack's own `_toCloudFormation`), then after its resources
 * each resource rendered apart, rendered and resolved once (renderedOnce), in construct order. A logical id rendered
 * twice fails, naming it, as CDK's merge of a stack's elements does; so does a resource that names another stack's
 * (assertReferencesWithinTemplate).
 */
function templateWithApart(stack: Stack, resources: readonly Apart[], renderByCdk: () => object): object {
  // Apart first: a logical id renamed (renameLogicalId) is then applied before CDK checks that every rename was.
  const fragments = resources.map(({ resource, render }) => ({
    resource,
    fragment: renderedOnce(stack, resource, render),
  }));
  const template = renderByCdk() as Record<string, Record<string, unknown>>;
  for (const { resource, fragment } of fragments) {
    for (const [section, entries] of Object.entries(fragment as Record<string, Record<string, unknown>>)) {
      const into = (template[section] ??= {});
      for (const [id, entry] of Object.entries(entries)) {
        if (id in into)
          throw new Error(
            `${stack.stackName}: ${resource.node.path} renders ${section} ${id}, which the template already has`,
          );
        into[id] = entry;
      }
    }
  }
  assertReferencesWithinTemplate(stack.stackName, template);
  return template;
}

/** The pseudo parameters CloudFormation resolves in any template (`AWS::Region`, ...). */
const PSEUDO_PARAMETER_PREFIX = 'AWS::';

/**
 * Fails with one line naming the resource and what it names if a resource of `template` points at something the
 * template does not hold (`Ref`, `Fn::GetAtt`, `DependsOn` or `${Id}` in `Fn::Sub`, as the shape index reads them):
 * a value of another stack that did not go through sharedWithinStack (renderedApart).
 */
export function assertReferencesWithinTemplate(stackName: string, template: TemplateReferences): void {
  const own = new Set([...Object.keys(template.Resources ?? {}), ...Object.keys(template.Parameters ?? {})]);
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    const foreign = references(resource).find((id) => !own.has(id) && !id.startsWith(PSEUDO_PARAMETER_PREFIX));
    if (foreign !== undefined) {
      throw new Error(
        `${stackName}: ${logicalId} names ${foreign}, which is not in this stack; a Fleet cell takes another stack's values through sharedWithinStack (lib/fleet/intrinsics.ts)`,
      );
    }
  }
}

interface TemplateReferences {
  readonly Resources?: Record<string, unknown>;
  readonly Parameters?: Record<string, unknown>;
}

/** What CfnResource renders its template from (its `_toCloudFormation`, aws-cdk-lib/core/lib/cfn-resource.ts). */
interface CfnResourceInternals {
  shouldSynthesize(): boolean;
  readonly rawOverrides: Record<string, unknown>;
  readonly dependsOn?: Set<CfnResource>;
  readonly cfnProperties: Record<string, unknown>;
  renderProperties(props: Record<string, unknown>): Record<string, unknown> | undefined;
}

/** CDK's ignoreEmpty: an empty list or object is left out. */
function nonEmpty(value: unknown): unknown {
  if (value == null) return value;
  if (Array.isArray(value) && value.length === 0) return undefined;
  if (typeof value === 'object' && Object.keys(value).length === 0) return undefined;
  return value;
}

/**
 * One resource's template section, resolved: what CfnResource's `_toCloudFormation` renders, without the five tokens
 * it wraps every resource in (the resource, its properties, dependencies and metadata, each to be post-processed, and
 * its logical id as a key): ~1 s of CPU over a 5,000-pair fleet. Only for what a cell's resources set: properties,
 * tags, DependsOn, the deletion and replacement policies, metadata. A resource with raw overrides, a creation or
 * update policy, a condition, a version or a description is rendered by CDK itself. test/fleet/rendered-apart.test.ts
 * compares every Fleet template of the example with CDK's own rendering, byte for byte.
 */
function renderedOnce(stack: Stack, resource: CfnResource, render: () => object): object {
  const internals = resource as unknown as CfnResourceInternals;
  if (!internals.shouldSynthesize()) return {};
  const options = resource.cfnOptions;
  if (
    Object.keys(internals.rawOverrides).length > 0 ||
    options.creationPolicy !== undefined ||
    options.updatePolicy !== undefined ||
    options.condition !== undefined ||
    options.version !== undefined ||
    options.description !== undefined
  ) {
    return stack.resolve(render());
  }
  // In CDK's order: Type, Properties, DependsOn, UpdateReplacePolicy, DeletionPolicy, Metadata.
  const definition: Record<string, unknown> = { Type: resource.cfnResourceType };
  const properties = nonEmpty(stack.resolve(internals.cfnProperties));
  if (properties !== undefined) definition.Properties = properties;
  const dependsOn = [...(internals.dependsOn ?? [])]
    .filter((target) => (target as unknown as CfnResourceInternals).shouldSynthesize())
    .sort((x, y) => x.node.path.localeCompare(y.node.path))
    .map((target) => stack.resolve(target.logicalId));
  if (dependsOn.length > 0) definition.DependsOn = dependsOn;
  const replacement = stack.resolve(options.updateReplacePolicy);
  if (replacement !== undefined) definition.UpdateReplacePolicy = replacement;
  const deletion = stack.resolve(options.deletionPolicy);
  if (deletion !== undefined) definition.DeletionPolicy = deletion;
  const metadata = nonEmpty(stack.resolve(options.metadata));
  if (metadata !== undefined) definition.Metadata = metadata;
  // CDK's post-processing: the L1's property names and validation (an L1 may render its own, AgentTaskDefinition).
  const rendered = internals.renderProperties((definition.Properties as Record<string, unknown> | undefined) ?? {});
  if (rendered) {
    const hasDefined = Object.values(rendered).some((value) => value !== undefined);
    definition.Properties = hasDefined ? rendered : undefined;
  }
  return { Resources: { [stack.resolve(resource.logicalId) as string]: definition } };
}
