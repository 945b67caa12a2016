import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import { TableName, TABLES } from '../../runtime/shared/tables';
import { UserConfig } from '../config/schema';
import { AgentCell, AgentPlatformRefs } from '../constructs/agent-cell';
import { UserVault } from '../constructs/user-vault';
import { stableConstructId } from '../fleet/naming';
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

    // Cross-stack values, read once: every cell shares the same references to the Platform stack.
    const tables = Object.fromEntries(
      (Object.keys(TABLES) as TableName[]).map((name) => [
        name,
        { tableName: platform.tables[name].tableName, tableArn: platform.tables[name].tableArn },
      ]),
    ) as AgentPlatformRefs['tables'];
    const refs: AgentPlatformRefs = {
      imageUri: platform.agentImage.imageUri,
      executionRoleArn: platform.executionRole.roleArn,
      logGroupName: platform.agentLogGroup.logGroupName,
      clusterName: platform.cluster.clusterName,
      tablesKeyArn: platform.key.keyArn,
      tables,
    };

    const vaults = new Map<string, UserVault>();
    const cells = new Map<string, AgentCell>();
    for (const user of props.users) {
      const scope = new Construct(this, `User${stableConstructId(user.id)}`);
      const vault = new UserVault(scope, 'Vault', { config, user });
      vaults.set(user.id, vault);
      const readers = [];
      for (const agent of user.agents) {
        const cell = new AgentCell(scope, `Agent${stableConstructId(agent.id)}`, {
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
    }
    this.vaults = vaults;
    this.cells = cells;
  }
}
