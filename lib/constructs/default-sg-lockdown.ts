import { CfnResource, CustomResourceProviderBase, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

/** Construct id under which aws-ec2 creates the provider that empties the VPC's default security group. */
const PROVIDER_ID = 'Custom::VpcRestrictDefaultSGCustomResourceProvider';

/**
 * The VPC's default security group is emptied at deploy time by a CDK-provided Lambda
 * (`restrictDefaultSecurityGroup`). This places that Lambda in the private subnets with HTTPS-only
 * egress, so every Lambda in the account runs inside the VPC (Control Tower CT.LAMBDA.PR.3).
 */
export class DefaultSecurityGroupLockdown extends Construct {
  constructor(scope: Construct, id: string, vpc: ec2.Vpc) {
    super(scope, id);
    const stack = Stack.of(this);
    const provider = stack.node.tryFindChild(PROVIDER_ID) as CustomResourceProviderBase | undefined;
    if (!provider) {
      throw new Error(`${PROVIDER_ID} not found: is restrictDefaultSecurityGroup on for ${vpc.node.path}?`);
    }
    const group = new ec2.SecurityGroup(this, 'FunctionSecurityGroup', {
      vpc,
      description: 'Default-security-group lockdown function: HTTPS egress to the EC2 API only',
      allowAllOutbound: false,
    });
    group.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to the EC2 API');

    const handler = provider.node.findChild('Handler') as CfnResource;
    handler.addPropertyOverride('VpcConfig', {
      SubnetIds: vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds,
      SecurityGroupIds: [group.securityGroupId],
    });
    // Lambda manages the function's network interfaces with the function's role. These EC2 actions
    // support only Resource "*": https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions
    provider.addToRolePolicy({
      Effect: 'Allow',
      Action: [
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ],
      Resource: '*',
    });
    // The function must not start before its subnets can reach the EC2 API.
    handler.node.addDependency(
      vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).internetConnectivityEstablished,
    );
  }
}
