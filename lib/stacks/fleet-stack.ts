import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import { constructIdOf } from '../../runtime/shared/ids';
import { UserConfig } from '../config/schema';
import { AgentCell, AgentPlatformRefs } from '../constructs/agent-cell';
import { Relay } from '../constructs/relay';
import { UserVault } from '../constructs/user-vault';
import { declareIdScope } from '../aspects/resource-shapes';
import { compare } from '../util/order';
import { renderedApart, sharedWithinStack } from '../fleet/intrinsics';
import { ShardFileSystem } from '../fleet/shard-file-system';
import { CubicleStack, CubicleStackProps } from './cubicle-stack';
import { NetworkStack } from './network-stack';
import { PlatformStack } from './platform-stack';

export interface FleetStackProps extends CubicleStackProps {
  /** Shard number (from the lock file); never changes for a user. */
  readonly shard: number;
  /** The roster users assigned to this shard. */
  readonly users: readonly UserConfig[];
  readonly network: NetworkStack;
  readonly platform: PlatformStack;
  /** The control plane's relay: the tasks' only way to the control plane (runtime API). */
  readonly relay: Relay;
}

/**
 * One shard of the fleet: its EFS file system, and for each of its users a vault and one cell per agent.
 * Construct ids come from user and agent ids only (`User<Id>/Agent<Id>/...`), so roster order never
 * changes a logical id, and adding or removing a user touches only that user's resources.
 */
export class FleetStack extends CubicleStack {
  readonly shard: number;
  readonly fileSystem: ShardFileSystem;
  readonly vaults: ReadonlyMap<string, UserVault>;
  /** By `<user>#<agent>`. */
  readonly cells: ReadonlyMap<string, AgentCell>;

  constructor(scope: Construct, id: string, props: FleetStackProps) {
    // A full shard is ~1 MB indented, CloudFormation's limit for a template; without indentation about half.
    super(scope, id, { ...props, suppressTemplateIndentation: true });
    // A stack trace per resource (for `cdk` error messages) is a tenth of a large fleet's synth time; the
    // construct paths name every resource here. CDK_DEBUG=true brings the traces back.
    this.node.setContext(cxapi.DISABLE_CREATION_STACK_TRACES, true);
    const { config, network, platform } = props;
    this.shard = props.shard;

    this.fileSystem = new ShardFileSystem(this, 'Storage', {
      encryptionKeyArn: platform.key.keyArn,
      subnets: network.vpc.privateSubnets,
      securityGroupId: network.efsSecurityGroup.securityGroupId,
    });

    // Cross-stack values: every cell shares the same references to the Platform and ControlPlane stacks,
    // which CDK renders once for this stack (lib/fleet/intrinsics.ts). Each is asked for when a cell first
    // takes it, so a shard without cells publishes nothing.
    const shared = (value: string) => sharedWithinStack(this, value);
    const refs: AgentPlatformRefs = {
      imageUriFor: (agent) => shared(platform.agentImages.imageFor(agent).imageUri),
      get executionRoleArn() {
        return shared(platform.executionRole.roleArn);
      },
      get logGroupName() {
        return shared(platform.agentLogGroup.logGroupName);
      },
      get relay() {
        return { url: shared(props.relay.runtimeUrl), connectArn: shared(props.relay.runtimeConnectArn) };
      },
      get clusterName() {
        return shared(platform.cluster.clusterName);
      },
    };

    const vaults = new Map<string, UserVault>();
    const cells = new Map<string, AgentCell>();
    // Validations.acknowledge records a stack trace with every acknowledgement whatever the flag above says
    // (a third of the construct time at 5,000 pairs): none are captured while the cells are built.
    const traceLimit = Error.stackTraceLimit;
    if (process.env.CDK_DEBUG !== 'true') Error.stackTraceLimit = 0;
    try {
      for (const user of props.users) {
        const scope = new Construct(this, `User${constructIdOf(user.id)}`);
        // One owner's resources: the compliance checks evaluate one user per shape (lib/aspects/resource-shapes.ts).
        const agentIds = user.agents.map((a) => a.id).sort(compare);
        declareIdScope(scope, [user.id, constructIdOf(user.id), ...agentIds.flatMap((id) => [id, constructIdOf(id)])]);
        const vault = new UserVault(scope, 'Vault', { config, user });
        vaults.set(user.id, vault);
        const readers = [];
        for (const agent of user.agents) {
          const cell = new AgentCell(scope, `Agent${constructIdOf(agent.id)}`, {
            config,
            user,
            agent,
            vault,
            fileSystem: this.fileSystem,
            platform: refs,
          });
          cells.set(`${user.id}#${agent.id}`, cell);
          readers.push({ agentId: agent.id, role: cell.role });
        }
        vault.admit(readers);
        renderedApart(scope);
      }
    } finally {
      Error.stackTraceLimit = traceLimit;
    }
    this.vaults = vaults;
    this.cells = cells;
  }
}
