import { Assembly } from './assembly';

/**
 * Which claims each resource type is evidence for, or why it needs none. A resource type missing here is
 * reported as "not covered by a claim" (the review still runs): add an entry when a new construct brings
 * a new type, with the claim whose checks read it, or the reason it carries no claim.
 */
export const RESOURCE_COVERAGE: Readonly<
  Record<string, { readonly claims: readonly (number | 'baseline')[]; readonly note?: string }>
> = {
  'AWS::ECS::TaskDefinition': { claims: [1, 3, 4, 6, 7, 9] },
  'AWS::ECS::Cluster': { claims: [1], note: 'where tasks run; Container Insights' },
  'AWS::EC2::SecurityGroup': { claims: [1, 10] },
  'AWS::EC2::SecurityGroupIngress': { claims: [1, 10] },
  'AWS::EC2::SecurityGroupEgress': { claims: [1] },
  'AWS::EC2::Subnet': { claims: [1] },
  'AWS::EC2::RouteTable': { claims: [1] },
  'AWS::EC2::Route': { claims: [1] },
  'AWS::EC2::SubnetRouteTableAssociation': { claims: [1] },
  'AWS::EC2::InternetGateway': { claims: [1] },
  'AWS::EFS::FileSystem': { claims: [2, 12] },
  'AWS::EFS::AccessPoint': { claims: [2] },
  'AWS::EFS::MountTarget': { claims: [1, 2] },
  'AWS::KMS::Key': { claims: [3, 12, 'baseline'] },
  'AWS::KMS::Alias': { claims: [], note: 'a name for a key; grants nothing' },
  'AWS::SecretsManager::Secret': { claims: [3, 12] },
  'AWS::SecretsManager::ResourcePolicy': { claims: [3] },
  'AWS::IAM::Role': { claims: [3, 4, 11, 'baseline'] },
  'AWS::IAM::Policy': { claims: [3, 5, 'baseline'] },
  'AWS::IAM::ManagedPolicy': { claims: [11, 'baseline'] },
  'AWS::IAM::OIDCProvider': { claims: [11] },
  'AWS::IAM::User': { claims: [11], note: 'must not exist' },
  'AWS::IAM::AccessKey': { claims: [11], note: 'must not exist' },
  'AWS::DynamoDB::Table': { claims: [5, 12] },
  'AWS::DynamoDB::GlobalTable': { claims: [5, 12] },
  'AWS::ApiGatewayV2::Api': { claims: [4, 10] },
  'AWS::ApiGatewayV2::Route': { claims: [4] },
  'AWS::ApiGatewayV2::Authorizer': { claims: [4] },
  'AWS::ApiGatewayV2::Integration': { claims: [3], note: 'which functions the internet reaches' },
  'AWS::ApiGatewayV2::Stage': { claims: [], note: 'deployment stage: throttling and access logs' },
  'AWS::Lambda::Function': { claims: [1, 3, 9] },
  'AWS::Lambda::Permission': { claims: [10] },
  'AWS::Lambda::Url': { claims: [4, 10] },
  'AWS::Lambda::EventInvokeConfig': { claims: [], note: "the launcher's asynchronous retries and event age" },
  'AWS::SNS::Topic': {
    claims: [],
    note: 'security events an administrator cannot prevent (README "What an account administrator can and cannot do")',
  },
  'AWS::SNS::TopicPolicy': { claims: [], note: 'EventBridge may publish security events, over TLS only' },
  'AWS::Events::Rule': { claims: [9] },
  'AWS::Scheduler::Schedule': {
    claims: [9],
    note: "the reaper, and the config's scheduled runs (their input is a schedule id, never text)",
  },
  'AWS::SQS::Queue': {
    claims: [],
    note: 'dead letters of the scheduled runs: KMS-encrypted, schedule ids only, never message text',
  },
  'AWS::SQS::QueuePolicy': { claims: [], note: 'the dead-letter queue refuses requests without TLS' },
  'AWS::SSM::Parameter': {
    claims: [11],
    note: "what the pipeline's invoke roles read: the scheduled-run function's name and the schedule ids",
  },
  'AWS::Logs::LogGroup': { claims: [8, 12] },
  'AWS::Logs::ResourcePolicy': { claims: ['baseline'] },
  'AWS::Logs::DeliverySource': { claims: [], note: 'CloudFront access-log delivery' },
  'AWS::Logs::DeliveryDestination': { claims: [], note: 'CloudFront access-log delivery' },
  'AWS::Logs::Delivery': { claims: [], note: 'CloudFront access-log delivery' },
  'AWS::CloudFront::Distribution': { claims: [10] },
  'AWS::CloudFront::ResponseHeadersPolicy': { claims: [10] },
  'AWS::CloudFront::Function': { claims: [], note: 'answers paths outside the API at the edge' },
  'AWS::WAFv2::WebACL': { claims: [10] },
  'AWS::WAFv2::LoggingConfiguration': { claims: [], note: 'WAF logs (Authorization header redacted)' },
  'AWS::Cognito::UserPool': {
    claims: [],
    note: 'employee sign-in; identity reaches the API only as a verified token (claim 4)',
  },
  'AWS::Cognito::UserPoolClient': { claims: [], note: 'employee sign-in' },
  'AWS::Cognito::UserPoolUser': { claims: [], note: 'roster users of the default user pool' },
  'AWS::S3::Bucket': { claims: [8, 10] },
  'AWS::CloudTrail::Trail': { claims: [3, 8] },
  'AWS::EC2::VPC': { claims: [], note: 'network plumbing' },
  'AWS::EC2::EIP': { claims: [], note: "the NAT gateway's address" },
  'AWS::EC2::NatGateway': { claims: [], note: 'outbound path of private subnets' },
  'AWS::EC2::VPCGatewayAttachment': { claims: [], note: 'network plumbing' },
  'AWS::EC2::VPCEndpoint': { claims: [], note: 'private paths to AWS APIs' },
  'AWS::EC2::FlowLog': { claims: [], note: 'network audit' },
  'Custom::VpcRestrictDefaultSG': { claims: [], note: "empties the VPC's default security group" },
  'AWS::CloudFront::OriginAccessControl': {
    claims: [10],
    note: "CloudFront signs its requests to the console's private bucket",
  },
  'AWS::S3::BucketPolicy': { claims: [10, 'baseline'], note: 'read by the public-surface and resource-policy checks' },
  'AWS::Cognito::UserPoolDomain': {
    claims: [],
    note: 'the managed sign-in pages (code + PKCE); a public entry point listed under claim 10',
  },
  'Custom::CubicleDirectorySync': {
    claims: [],
    note: "creates, updates and disables the roster's Cognito users (never deletes)",
  },
  'Custom::CDKBucketDeployment': { claims: [], note: "copies the console's static files into its bucket at deploy" },
  'AWS::Lambda::LayerVersion': { claims: [], note: "the AWS CLI layer of the console's deployment function" },
  'AWS::Lambda::EventSourceMapping': { claims: [5], note: "the relay's fan-out reads the Events and Inbox streams" },
  'AWS::Route53Resolver::FirewallDomainList': {
    claims: [7],
    note: 'egress allow-list enforced outside the task (DNS Firewall)',
  },
  'AWS::Route53Resolver::FirewallRuleGroup': {
    claims: [7],
    note: 'egress allow-list enforced outside the task (DNS Firewall)',
  },
  'AWS::Route53Resolver::FirewallRuleGroupAssociation': {
    claims: [7],
    note: 'egress allow-list enforced outside the task (DNS Firewall)',
  },
};

export interface CoverageResult {
  /** Resource types of the assembly, with counts and the claims they evidence. */
  readonly types: readonly {
    readonly type: string;
    readonly count: number;
    readonly claims: readonly (number | 'baseline')[];
    readonly note?: string;
  }[];
  /** Types no registry entry knows: listed in the report, not fatal. */
  readonly uncovered: readonly {
    readonly type: string;
    readonly count: number;
    readonly resources: readonly string[];
  }[];
}

export function coverage(assembly: Assembly): CoverageResult {
  const counts = new Map<string, string[]>();
  for (const r of assembly.resources())
    counts.set(r.type, [...(counts.get(r.type) ?? []), `${r.stack} ${r.logicalId}`]);
  const types = [...counts].sort(([a], [b]) => (a < b ? -1 : 1));
  return {
    types: types
      .filter(([t]) => RESOURCE_COVERAGE[t])
      .map(([type, rs]) => ({ type, count: rs.length, ...RESOURCE_COVERAGE[type] })),
    uncovered: types
      .filter(([t]) => !RESOURCE_COVERAGE[t])
      .map(([type, rs]) => ({ type, count: rs.length, resources: rs.slice(0, 10) })),
  };
}
