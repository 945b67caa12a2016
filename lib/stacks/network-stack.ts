import { Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { AgentSecurityGroups } from '../constructs/agent-security-groups';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { CubicleStack, CubicleStackProps } from './cubicle-stack';

/** Services the agent tasks reach through interface endpoints when `network.interfaceEndpoints` is on. */
export const INTERFACE_ENDPOINT_SERVICES = [
  ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
  ['Kms', ec2.InterfaceVpcEndpointAwsService.KMS],
  ['Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
  ['EcrApi', ec2.InterfaceVpcEndpointAwsService.ECR],
  ['EcrDocker', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
  ['Sts', ec2.InterfaceVpcEndpointAwsService.STS],
] as const;

/** The VPC (2 AZs), its endpoints and flow logs, and the security groups of agent tasks and EFS. */
export class NetworkStack extends CubicleStack {
  readonly vpc: ec2.Vpc;
  readonly agentSecurityGroup: ec2.SecurityGroup;
  readonly efsSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: CubicleStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: config.network.natGateways,
      subnetConfiguration: [
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      gatewayEndpoints: {
        DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
      },
    });

    const flowLogs = new EncryptedLogGroup(this, 'FlowLogs', {
      retentionDays: config.logs.retentionDays,
      purpose: 'VPC flow logs',
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs.logGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    const groups = new AgentSecurityGroups(this, 'SecurityGroups', { vpc: this.vpc });
    this.agentSecurityGroup = groups.agentTasks;
    this.efsSecurityGroup = groups.efs;

    if (config.network.interfaceEndpoints) this.addInterfaceEndpoints(groups.agentTasks);

    Validations.of(this.vpc).acknowledge({
      id: 'NIST.800.53.R5-VPCSubnetAutoAssignPublicIpDisabled',
      reason: 'Only NAT gateways live in the public subnets (MapPublicIpOnLaunch is false); tasks run in private subnets.',
    });
  }

  private addInterfaceEndpoints(agentTasks: ec2.SecurityGroup): void {
    const endpointGroup = new ec2.SecurityGroup(this, 'InterfaceEndpoints', {
      vpc: this.vpc,
      description: 'Interface VPC endpoints: HTTPS from agent tasks only',
      allowAllOutbound: false,
    });
    endpointGroup.addIngressRule(agentTasks, ec2.Port.tcp(443), 'HTTPS from agent tasks');
    for (const [id, service] of INTERFACE_ENDPOINT_SERVICES) {
      this.vpc.addInterfaceEndpoint(id, {
        service,
        privateDnsEnabled: true,
        securityGroups: [endpointGroup],
        subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      });
    }
  }
}
