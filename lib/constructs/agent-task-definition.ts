import * as ecs from 'aws-cdk-lib/aws-ecs';

/**
 * A pair's task definition (lib/constructs/agent-cell.ts): an ecs.CfnTaskDefinition, so cdk-nag, Tags and
 * property overrides treat it as one, whose properties are rendered to CloudFormation by the table below
 * instead of CDK's generated converter.
 *
 * CDK's converter validates every nested property at run time, each time the resource renders. Here the
 * properties are typed at compile time (ecs.CfnTaskDefinitionProps) and their shape is fixed, so that
 * validation could find nothing the compiler has not; CDK's CloudFormation template validator (on in
 * `cdk synth` and the tests' global synth) still checks every rendered name against the resource schema.
 * Measured with bench-synth at 5,000 pairs: ~1.5 s of CPU saved, the table's own walk costs ~0.2 s. The
 * rendering is the same (test/constructs/agent-task-definition.test.ts compares it with
 * ecs.CfnTaskDefinition's): CloudFormation's names, keys in the order CDK writes them (sorted), values as
 * given. A property the table does not name fails synth, so a property added to a cell must be added here too.
 */
export class AgentTaskDefinition extends ecs.CfnTaskDefinition {
  protected override renderProperties(props: Record<string, unknown>): Record<string, unknown> {
    return render(props, TASK_DEFINITION, 'Properties') as Record<string, unknown>;
  }
}

/** A value written as is (strings, numbers, booleans, lists of them, intrinsic functions, the log options map). */
const VALUE = 'value';
interface Shape {
  /** CloudFormation's name when it is not the property name capitalized, and the shape of the value. */
  readonly [property: string]: typeof VALUE | Shape | readonly [cfnName: string, shape: typeof VALUE | Shape];
}

const KEY_VALUE: Shape = { name: VALUE, value: VALUE };
const CONTAINER: Shape = {
  command: VALUE,
  dependsOn: { condition: VALUE, containerName: VALUE },
  entryPoint: VALUE,
  environment: KEY_VALUE,
  essential: VALUE,
  image: VALUE,
  linuxParameters: { capabilities: { add: VALUE, drop: VALUE }, initProcessEnabled: VALUE },
  // The options map's keys are the log driver's own names (`awslogs-group`).
  logConfiguration: { logDriver: VALUE, options: VALUE },
  memory: VALUE,
  mountPoints: { containerPath: VALUE, readOnly: VALUE, sourceVolume: VALUE },
  name: VALUE,
  privileged: VALUE,
  readonlyRootFilesystem: VALUE,
  stopTimeout: VALUE,
  user: VALUE,
};
const VOLUME: Shape = {
  name: VALUE,
  efsVolumeConfiguration: [
    'EFSVolumeConfiguration',
    {
      authorizationConfig: { accessPointId: VALUE, iam: ['IAM', VALUE] },
      filesystemId: VALUE,
      transitEncryption: VALUE,
    },
  ],
};
const TASK_DEFINITION: Shape = {
  containerDefinitions: CONTAINER,
  cpu: VALUE,
  executionRoleArn: VALUE,
  family: VALUE,
  memory: VALUE,
  networkMode: VALUE,
  requiresCompatibilities: VALUE,
  runtimePlatform: { cpuArchitecture: VALUE, operatingSystemFamily: VALUE },
  tags: { key: VALUE, value: VALUE },
  taskRoleArn: VALUE,
  volumes: VOLUME,
};

/** A shape as render() walks it: CloudFormation's names in the order CDK writes them, and the names it knows. */
interface Compiled {
  readonly order: readonly (readonly [property: string, cfnName: string, shape: Compiled | undefined])[];
  readonly known: ReadonlySet<string>;
}

const compiled = new Map<Shape, Compiled>();
function compile(shape: Shape): Compiled {
  let found = compiled.get(shape);
  if (found === undefined) {
    const order = Object.entries(shape)
      .map(([property, entry]) => {
        const [cfnName, itemShape] = Array.isArray(entry)
          ? (entry as readonly [string, typeof VALUE | Shape])
          : [property.charAt(0).toUpperCase() + property.slice(1), entry as typeof VALUE | Shape];
        return [property, cfnName, itemShape === VALUE ? undefined : compile(itemShape)] as const;
      })
      .sort(([, a], [, b]) => (a < b ? -1 : a > b ? 1 : 0));
    found = { order, known: new Set(Object.keys(shape)) };
    compiled.set(shape, found);
  }
  return found;
}

function render(value: unknown, shape: Shape, path: string): unknown {
  return renderCompiled(value, compile(shape), [path]);
}

/**
 * `path`: where `value` is, a step per entry (an index, or a property's CloudFormation name), written out only in an
 * error. Plain indexed loops and no string per step: this runs over every cell's containers and their environments
 * (tens of thousands of objects at 5,000 pairs), where building a path and an iterator per entry cost more than the
 * rendering.
 */
function renderCompiled(value: unknown, shape: Compiled, path: (string | number)[]): unknown {
  if (Array.isArray(value)) {
    const items = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      items[i] = renderCompiled(value[i], shape, path);
      path.pop();
    }
    return items;
  }
  if (typeof value !== 'object' || value === null)
    throw new Error(`${written(path)}: AgentTaskDefinition renders objects here, got ${JSON.stringify(value)}`);
  const properties = value as Record<string, unknown>;
  const names = Object.keys(properties);
  for (let i = 0; i < names.length; i++) {
    if (!shape.known.has(names[i]) && properties[names[i]] !== undefined)
      throw new Error(`${written(path)}.${names[i]}: not a property AgentTaskDefinition renders`);
  }
  const rendered: Record<string, unknown> = {};
  const order = shape.order;
  for (let i = 0; i < order.length; i++) {
    const entry = order[i];
    const item = properties[entry[0]];
    if (item === undefined) continue;
    if (entry[2] === undefined) {
      rendered[entry[1]] = item;
    } else {
      path.push(entry[1]);
      rendered[entry[1]] = renderCompiled(item, entry[2], path);
      path.pop();
    }
  }
  return rendered;
}

/** `Resource.ContainerDefinitions[0].Environment[3]`: the root as given, then `.Name` and `[index]` steps. */
function written(path: readonly (string | number)[]): string {
  return path.map((step, i) => (i === 0 ? step : typeof step === 'number' ? `[${step}]` : `.${step}`)).join('');
}
