import { Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

/** How many /24 subnets the control plane takes: one per AZ. */
export const FUNCTION_SUBNET_COUNT = 2;

/**
 * The last `count` /24 blocks of a VPC CIDR. The Network stack's subnets are allocated from the bottom
 * (10.0.0.0/24, 10.0.1.0/24, 10.0.16.0/20, 10.0.32.0/20 for the default 10.0.0.0/16), so the top is free.
 * Computed at synth: CloudFormation's Fn::Cidr cannot take another stack's output.
 */
export function topBlocks(vpcCidr: string, count: number): string[] {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(vpcCidr);
  if (!match || Number(match[5]) > 22) throw new Error(`the VPC CIDR must be a literal /22 or larger, got ${vpcCidr}`);
  const base = match.slice(1, 5).reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(match[5]));
  return Array.from({ length: count }, (_, i) => {
    const start = base + size - (count - i) * 256;
    return `${[24, 16, 8, 0].map((shift) => Math.floor(start / 2 ** shift) % 256).join('.')}/24`;
  });
}

export interface ControlPlaneNetworkProps {
  readonly vpc: ec2.Vpc;
}

/**
 * The control-plane functions' own private subnets in the shared VPC, one per AZ, with a default route
 * to the VPC's NAT gateway(s) and a DynamoDB gateway endpoint on their route tables.
 *
 * Why here and not the Network stack's private subnets: Control Tower CT.LAMBDA.PR.3 accepts a
 * function's subnets only as literal ids or references to subnets in the same template, so a
 * cross-stack reference fails it. Separate subnets also keep the control plane's interfaces apart from
 * the agent tasks'.
 */
export class ControlPlaneNetwork extends Construct {
  readonly subnets: ec2.PrivateSubnet[];
  /** No ingress; HTTPS egress only. */
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: ControlPlaneNetworkProps) {
    super(scope, id);
    const { vpc } = props;
    const nats = vpc.publicSubnets
      .map((subnet) => subnet.node.tryFindChild('NATGateway') as ec2.CfnNatGateway | undefined)
      .filter((nat): nat is ec2.CfnNatGateway => nat !== undefined);
    if (nats.length === 0) {
      throw new Error(
        'The control plane needs a NAT gateway in the VPC to reach AWS APIs: set network.natGateways to 1 or 2.',
      );
    }
    const blocks = topBlocks((vpc.node.defaultChild as ec2.CfnVPC).cidrBlock as string, FUNCTION_SUBNET_COUNT);
    this.subnets = vpc.availabilityZones.slice(0, FUNCTION_SUBNET_COUNT).map((zone, i) => {
      const subnet = new ec2.PrivateSubnet(this, `Subnet${i + 1}`, {
        vpcId: vpc.vpcId,
        availabilityZone: zone,
        cidrBlock: blocks[i],
        mapPublicIpOnLaunch: false,
      });
      // The NAT gateway of the same AZ when there is one per AZ.
      subnet.addDefaultNatRoute(nats[i % nats.length].ref);
      return subnet;
    });
    Validations.of(this).acknowledge({
      id: 'CloudFormation-Validate::W3010',
      reason:
        "The subnets take the VPC's availability zones, which come from the config so that synth never calls AWS to look them up.",
    });
    new ec2.GatewayVpcEndpoint(this, 'DynamoDb', {
      vpc,
      service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
      subnets: [{ subnets: this.subnets }],
    });

    this.securityGroup = new ec2.SecurityGroup(this, 'Functions', {
      vpc,
      description: 'Cubicle control-plane functions: no ingress; HTTPS egress to AWS APIs only',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'HTTPS to AWS APIs (DynamoDB, ECS, Secrets Manager)',
    );
  }
}
