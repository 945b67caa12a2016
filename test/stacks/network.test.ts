import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { FUNCTION_SUBNET_COUNT, topBlocks } from '../../lib/constructs/control-plane-network';
import { AWS_ENDPOINTS, EGRESS_FIREWALL_PRIORITY, egressAllowList } from '../../lib/constructs/egress-firewall';
import type { CubicleConfig } from '../../lib/config/schema';
import { exampleConfig } from '../support/example-config';
import { exampleTemplate, exampleTemplates, resourcesOfType } from '../support/assembly';

const template = exampleTemplate('acme-Network');
const json = exampleTemplates().get('acme-Network')!;

function logicalIdOf(type: string, description: string): string {
  const found = resourcesOfType(json, type).filter(([, r]) => r.Properties?.GroupDescription === description);
  expect(found).toHaveLength(1);
  return found[0][0];
}

const agentGroup = logicalIdOf(
  'AWS::EC2::SecurityGroup',
  'Cubicle agent tasks: no ingress; egress HTTPS and NFS to EFS only',
);
const efsGroup = logicalIdOf('AWS::EC2::SecurityGroup', 'Cubicle EFS mount targets: NFS from agent tasks only');
const endpointGroup = logicalIdOf('AWS::EC2::SecurityGroup', 'Interface VPC endpoints: HTTPS from agent tasks only');
const groupId = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'GroupId'] });

describe('VPC', () => {
  it('spans the two configured zones with public and private subnets, public IPs off', () => {
    const subnets = resourcesOfType(json, 'AWS::EC2::Subnet').map(([, r]) => r.Properties);
    expect(subnets).toHaveLength(4);
    expect(subnets.map((s) => s.AvailabilityZone).sort()).toEqual([
      'eu-west-1a',
      'eu-west-1a',
      'eu-west-1b',
      'eu-west-1b',
    ]);
    expect(subnets.every((s) => s.MapPublicIpOnLaunch === false)).toBe(true);
  });

  it('has the configured number of NAT gateways (1 in the example)', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
  });

  it('has DynamoDB and S3 gateway endpoints', () => {
    const gateways = resourcesOfType(json, 'AWS::EC2::VPCEndpoint').filter(
      ([, r]) => r.Properties.VpcEndpointType === 'Gateway',
    );
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
        KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FlowLogsKey'), 'Arn'] },
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
      {
        CidrIp: '255.255.255.255/32',
        Description: 'Disallow all traffic',
        FromPort: 252,
        ToPort: 86,
        IpProtocol: 'icmp',
      },
    ]);
  });

  it('no security group in the stack is open to the internet for ingress', () => {
    const inline = resourcesOfType(json, 'AWS::EC2::SecurityGroup').flatMap(
      ([, r]) => r.Properties.SecurityGroupIngress ?? [],
    );
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
      SubnetIds: [
        { Ref: expect.stringMatching(/^VpcPrivateSubnet1Subnet/) },
        { Ref: expect.stringMatching(/^VpcPrivateSubnet2Subnet/) },
      ],
      SecurityGroupIds: [
        { 'Fn::GetAtt': [expect.stringMatching(/^DefaultSecurityGroupLockdownFunctionSecurityGroup/), 'GroupId'] },
      ],
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

describe('egress firewall (Route 53 Resolver DNS Firewall on the VPC)', () => {
  const config = exampleConfig();
  const lists = resourcesOfType(json, 'AWS::Route53Resolver::FirewallDomainList');
  const listId = (domains: string[]) => {
    const found = lists.filter(([, r]) => JSON.stringify(r.Properties.Domains) === JSON.stringify(domains));
    expect(found).toHaveLength(1);
    return found[0][0];
  };
  const ALLOWED = [
    // providers (all four in the example)
    'api.anthropic.com',
    'api.openai.com',
    'chatgpt.com',
    'auth.openai.com',
    'generativelanguage.googleapis.com',
    'cloudcode-pa.googleapis.com',
    'oauth2.googleapis.com',
    'bedrock-runtime.eu-west-1.amazonaws.com',
    // the connections' hosts
    'acme.my.salesforce.com',
    'api.bank.example',
    'docs.acme.example',
    // AWS endpoints of the agent tasks and the control plane
    'dynamodb.eu-west-1.amazonaws.com',
    'secretsmanager.eu-west-1.amazonaws.com',
    'logs.eu-west-1.amazonaws.com',
    'api.ecr.eu-west-1.amazonaws.com',
    '111111111111.dkr.ecr.eu-west-1.amazonaws.com',
    'prod-eu-west-1-starport-layer-bucket.s3.eu-west-1.amazonaws.com',
    '*.efs.eu-west-1.amazonaws.com',
    'ecs.eu-west-1.amazonaws.com',
    'sts.eu-west-1.amazonaws.com',
    'kms.eu-west-1.amazonaws.com',
    'cognito-idp.eu-west-1.amazonaws.com',
    'lambda.eu-west-1.amazonaws.com',
    'sns.eu-west-1.amazonaws.com',
    // CloudFormation's response bucket for custom resources (the directory sync runs in the VPC)
    'cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com',
    'cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com',
    'cloudformation-custom-resource-response-euwest1.s3.amazonaws.com',
  ].sort();

  it('has exactly two domain lists: the deployment’s allow-list and everything', () => {
    expect(lists.map(([, r]) => r.Properties.Domains).sort()).toEqual([['*'], ALLOWED].sort());
    expect(egressAllowList(config)).toEqual(ALLOWED);
  });

  it('allows the list (trusting the CNAME chains of allowed names), then blocks every other name with NXDOMAIN', () => {
    const groups = resourcesOfType(json, 'AWS::Route53Resolver::FirewallRuleGroup');
    expect(groups).toHaveLength(1);
    const { Tags: _groupTags, ...group } = groups[0][1].Properties;
    expect(group).toEqual({
      FirewallRules: [
        {
          Priority: 100,
          Action: 'ALLOW',
          FirewallDomainListId: { 'Fn::GetAtt': [listId(ALLOWED), 'Id'] },
          FirewallDomainRedirectionAction: 'TRUST_REDIRECTION_DOMAIN',
        },
        {
          Priority: 200,
          Action: 'BLOCK',
          BlockResponse: 'NXDOMAIN',
          FirewallDomainListId: { 'Fn::GetAtt': [listId(['*']), 'Id'] },
        },
      ],
    });
    const associations = resourcesOfType(json, 'AWS::Route53Resolver::FirewallRuleGroupAssociation');
    expect(associations.map(([, r]) => ({ ...r.Properties, Tags: undefined }))).toEqual([
      {
        FirewallRuleGroupId: { 'Fn::GetAtt': [groups[0][0], 'Id'] },
        VpcId: { Ref: resourcesOfType(json, 'AWS::EC2::VPC')[0][0] },
        Priority: EGRESS_FIREWALL_PRIORITY,
        MutationProtection: 'ENABLED',
        Tags: undefined,
      },
    ]);
  });

  it('what the synthesized rules answer: allowed names resolve, exfiltration by name does not', () => {
    // DNS Firewall semantics: rules by priority; `name` matches itself, `*.name` its subdomains, `*` everything.
    const groups = resourcesOfType(json, 'AWS::Route53Resolver::FirewallRuleGroup');
    const domainsOf = (ref: { 'Fn::GetAtt': [string, string] }) =>
      json.Resources[ref['Fn::GetAtt'][0]].Properties.Domains as string[];
    const rules = [...groups[0][1].Properties.FirewallRules].sort((a, b) => a.Priority - b.Priority);
    const answer = (name: string) =>
      rules.find((rule) =>
        domainsOf(rule.FirewallDomainListId).some(
          (d) => d === '*' || d === name || (d.startsWith('*.') && name.endsWith(d.slice(1))),
        ),
      )?.Action;
    for (const name of [
      'api.anthropic.com',
      'acme.my.salesforce.com',
      'fs-0123abcd.efs.eu-west-1.amazonaws.com',
      'dynamodb.eu-west-1.amazonaws.com',
    ]) {
      expect(answer(name), name).toBe('ALLOW');
    }
    for (const name of [
      'evil.example',
      'allowed.example.evil.example',
      'attacker-bucket.s3.amazonaws.com',
      'attacker-bucket.s3.eu-west-1.amazonaws.com',
      'abcdef1234.execute-api.eu-west-1.amazonaws.com',
      'c2VjcmV0.tunnel.evil.example',
      'anthropic.com',
      'efs.eu-west-1.amazonaws.com',
    ]) {
      expect(answer(name), name).toBe('BLOCK');
    }
  });

  it('the allow-list follows the config: only listed providers, IDN hosts as punycode, wildcards kept, an external OIDC issuer', () => {
    const variant = {
      ...config,
      providers: ['anthropic'],
      connections: { wiki: { hosts: ['Bücher.example', '*.bank.example'], secret: false } },
      identity: {
        ...config.identity,
        oidc: { issuer: 'https://login.acme.example/realms/staff', audience: 'cubicle', userClaim: 'email' },
      },
    } as unknown as CubicleConfig;
    const domains = egressAllowList(variant);
    expect(domains).toEqual(
      expect.arrayContaining(['api.anthropic.com', 'xn--bcher-kva.example', '*.bank.example', 'login.acme.example']),
    );
    expect(domains.some((d) => /openai|chatgpt|google|bedrock/.test(d))).toBe(false);
    expect(domains.filter((d) => d.endsWith('amazonaws.com'))).toHaveLength(AWS_ENDPOINTS.length);
    expect(
      domains.some(
        (d) => d === '*.amazonaws.com' || d === 'amazonaws.com' || d.startsWith('*.s3') || d.includes('execute-api'),
      ),
    ).toBe(false);
  });
});
