import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { FUNCTION_SUBNET_COUNT, topBlocks } from '../../lib/constructs/control-plane-network';
import { exampleTemplate, exampleTemplates, resourcesOfType } from '../support/assembly';

const template = exampleTemplate('acme-Network');
const json = exampleTemplates().get('acme-Network')!;

function logicalIdOf(type: string, description: string): string {
  const found = resourcesOfType(json, type).filter(([, r]) => r.Properties?.GroupDescription === description);
  expect(found).toHaveLength(1);
  return found[0][0];
}

const agentGroup = logicalIdOf('AWS::EC2::SecurityGroup', 'Cubicle agent tasks: no ingress; egress HTTPS and NFS to EFS only');
const efsGroup = logicalIdOf('AWS::EC2::SecurityGroup', 'Cubicle EFS mount targets: NFS from agent tasks only');
const endpointGroup = logicalIdOf('AWS::EC2::SecurityGroup', 'Interface VPC endpoints: HTTPS from agent tasks only');
const groupId = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'GroupId'] });

describe('VPC', () => {
  it('spans the two configured zones with public and private subnets, public IPs off', () => {
    const subnets = resourcesOfType(json, 'AWS::EC2::Subnet').map(([, r]) => r.Properties);
    expect(subnets).toHaveLength(4);
    expect(subnets.map((s) => s.AvailabilityZone).sort()).toEqual(['eu-west-1a', 'eu-west-1a', 'eu-west-1b', 'eu-west-1b']);
    expect(subnets.every((s) => s.MapPublicIpOnLaunch === false)).toBe(true);
  });

  it('has the configured number of NAT gateways (1 in the example)', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
  });

  it('has DynamoDB and S3 gateway endpoints', () => {
    const gateways = resourcesOfType(json, 'AWS::EC2::VPCEndpoint').filter(([, r]) => r.Properties.VpcEndpointType === 'Gateway');
    expect(gateways).toHaveLength(2);
    for (const service of ['dynamodb', 's3']) {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, `.${service}`]] },
      });
    }
  });

  it('has the six interface endpoints, reachable only from agent tasks', () => {
    const endpoints = resourcesOfType(json, 'AWS::EC2::VPCEndpoint')
      .map(([, r]) => r.Properties)
      .filter((p) => p.VpcEndpointType === 'Interface');
    expect(endpoints.map((p) => p.ServiceName).sort()).toEqual(
      ['ecr.api', 'ecr.dkr', 'kms', 'logs', 'secretsmanager', 'sts'].map((s) => `com.amazonaws.eu-west-1.${s}`),
    );
    for (const endpoint of endpoints) {
      expect(endpoint.PrivateDnsEnabled).toBe(true);
      expect(endpoint.SecurityGroupIds).toEqual([groupId(endpointGroup)]);
    }
    const ingress = resourcesOfType(json, 'AWS::EC2::SecurityGroupIngress')
      .map(([, r]) => r.Properties)
      .filter((p) => JSON.stringify(p.GroupId) === JSON.stringify(groupId(endpointGroup)));
    expect(ingress).toEqual([
      {
        Description: 'HTTPS from agent tasks',
        FromPort: 443,
        ToPort: 443,
        IpProtocol: 'tcp',
        GroupId: groupId(endpointGroup),
        SourceSecurityGroupId: groupId(agentGroup),
      },
    ]);
  });

  it('sends all flow logs to an encrypted, retained log group with the configured retention', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceType: 'VPC',
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
      LogGroupName: { Ref: Match.stringLikeRegexp('^FlowLogsLogGroup') },
    });
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: {
        RetentionInDays: 365,
        KmsKeyId: { "Fn::GetAtt": [Match.stringLikeRegexp("^FlowLogsKey"), "Arn"] },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });
});

describe('security groups', () => {
  it('agent tasks accept no ingress at all', () => {
    const group = json.Resources[agentGroup].Properties;
    expect(group.SecurityGroupIngress).toBeUndefined();
    const ingressToAgents = resourcesOfType(json, 'AWS::EC2::SecurityGroupIngress').filter(
      ([, r]) => JSON.stringify(r.Properties.GroupId) === JSON.stringify(groupId(agentGroup)),
    );
    expect(ingressToAgents).toEqual([]);
  });

  it('agent tasks may only open HTTPS anywhere and NFS to the EFS group', () => {
    expect(json.Resources[agentGroup].Properties.SecurityGroupEgress).toEqual([
      {
        CidrIp: '0.0.0.0/0',
        Description: 'HTTPS to providers, AWS APIs and allow-listed hosts',
        FromPort: 443,
        ToPort: 443,
        IpProtocol: 'tcp',
      },
    ]);
    const egress = resourcesOfType(json, 'AWS::EC2::SecurityGroupEgress')
      .map(([, r]) => r.Properties)
      .filter((p) => JSON.stringify(p.GroupId) === JSON.stringify(groupId(agentGroup)));
    expect(egress).toEqual([
      {
        Description: 'NFS to EFS mount targets',
        DestinationSecurityGroupId: groupId(efsGroup),
        FromPort: 2049,
        ToPort: 2049,
        IpProtocol: 'tcp',
        GroupId: groupId(agentGroup),
      },
    ]);
  });

  it('EFS accepts NFS from agent tasks only and opens nothing', () => {
    const ingress = resourcesOfType(json, 'AWS::EC2::SecurityGroupIngress')
      .map(([, r]) => r.Properties)
      .filter((p) => JSON.stringify(p.GroupId) === JSON.stringify(groupId(efsGroup)));
    expect(ingress).toEqual([
      {
        Description: 'NFS from agent tasks',
        FromPort: 2049,
        ToPort: 2049,
        IpProtocol: 'tcp',
        GroupId: groupId(efsGroup),
        SourceSecurityGroupId: groupId(agentGroup),
      },
    ]);
    expect(json.Resources[efsGroup].Properties.SecurityGroupIngress).toBeUndefined();
    // CDK's placeholder for "no egress": a rule that matches no traffic.
    expect(json.Resources[efsGroup].Properties.SecurityGroupEgress).toEqual([
      { CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic', FromPort: 252, ToPort: 86, IpProtocol: 'icmp' },
    ]);
  });

  it('no security group in the stack is open to the internet for ingress', () => {
    const inline = resourcesOfType(json, 'AWS::EC2::SecurityGroup').flatMap(([, r]) => r.Properties.SecurityGroupIngress ?? []);
    const separate = resourcesOfType(json, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties);
    for (const rule of [...inline, ...separate]) {
      expect(rule.CidrIp).toBeUndefined();
      expect(rule.CidrIpv6).toBeUndefined();
    }
  });

  it('empties the default security group with a function that runs inside the VPC', () => {
    template.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
    const functions = resourcesOfType(json, 'AWS::Lambda::Function');
    expect(functions).toHaveLength(1);
    expect(functions[0][1].Properties.VpcConfig).toEqual({
      SubnetIds: [{ Ref: expect.stringMatching(/^VpcPrivateSubnet1Subnet/) }, { Ref: expect.stringMatching(/^VpcPrivateSubnet2Subnet/) }],
      SecurityGroupIds: [{ 'Fn::GetAtt': [expect.stringMatching(/^DefaultSecurityGroupLockdownFunctionSecurityGroup/), 'GroupId'] }],
    });
  });
});

describe('address space', () => {
  const toRange = (cidr: string): [number, number] => {
    const [ip, bits] = cidr.split('/');
    const start = ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
    return [start, start + 2 ** (32 - Number(bits)) - 1];
  };

  it("leaves the top of the VPC's range to the control plane's function subnets", () => {
    const vpcCidr = resourcesOfType(json, 'AWS::EC2::VPC')[0][1].Properties.CidrBlock as string;
    const reserved = topBlocks(vpcCidr, FUNCTION_SUBNET_COUNT).map(toRange);
    const subnets = resourcesOfType(json, 'AWS::EC2::Subnet').map(([, r]) => toRange(r.Properties.CidrBlock));
    for (const [start, end] of subnets) {
      for (const [rStart, rEnd] of reserved) expect(end < rStart || start > rEnd).toBe(true);
    }
  });
});
