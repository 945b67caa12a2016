import { domainToASCII } from 'node:url';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as route53resolver from 'aws-cdk-lib/aws-route53resolver';
import { Construct } from 'constructs';
import { providerApiHosts } from '../../runtime/shared/provider-hosts';
import { CubicleConfig } from '../config/schema';

/**
 * AWS endpoints the VPC's workloads resolve. The firewall covers the whole VPC, so the control plane's
 * functions (which run in it) are listed too. Each is a single service endpoint: never `*.amazonaws.com`,
 * under which anyone's S3 buckets and API Gateway APIs are reachable.
 */
export const AWS_ENDPOINTS: readonly { readonly host: string; readonly why: string }[] = [
  {
    host: 'dynamodb.{region}.amazonaws.com',
    why: 'the supervisor and the control plane: Sessions, Inbox, Events, Approvals',
  },
  {
    host: 'secretsmanager.{region}.amazonaws.com',
    why: 'the supervisor reads its secrets; the control plane stores credentials',
  },
  { host: 'logs.{region}.amazonaws.com', why: 'Fargate sends the awslogs stream through the task’s network interface' },
  { host: 'api.ecr.{region}.amazonaws.com', why: 'Fargate pulls the agent image through the task’s network interface' },
  { host: '{account}.dkr.ecr.{region}.amazonaws.com', why: 'the image registry of this account' },
  {
    host: 'prod-{region}-starport-layer-bucket.s3.{region}.amazonaws.com',
    why: 'ECR serves image layers from this AWS-owned bucket',
  },
  { host: '*.efs.{region}.amazonaws.com', why: 'Fargate mounts the pair’s access point by the file system’s name' },
  { host: 'ecs.{region}.amazonaws.com', why: 'the control plane starts and stops tasks' },
  { host: 'sts.{region}.amazonaws.com', why: 'the control plane’s SDK clients' },
  { host: 'kms.{region}.amazonaws.com', why: 'the control plane encrypts message text under each user’s key' },
  { host: 'cognito-idp.{region}.amazonaws.com', why: 'the control plane fetches the user pool’s signing keys' },
  {
    host: 'lambda.{region}.amazonaws.com',
    why: 'the API, the task-events handler, the reaper and scheduled runs invoke the launcher',
  },
  { host: 'sns.{region}.amazonaws.com', why: 'the audit archiver raises security events' },
  // A custom resource's handler answers CloudFormation by a PUT to a presigned URL in this AWS-owned bucket
  // (the directory sync runs in the VPC); the three ways the URL names it. Without them a deploy waits an hour.
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html
  {
    host: 'cloudformation-custom-resource-response-{regionCompact}.s3.{region}.amazonaws.com',
    why: 'custom resources in the VPC answer CloudFormation',
  },
  {
    host: 'cloudformation-custom-resource-response-{regionCompact}.s3-{region}.amazonaws.com',
    why: 'the same, older URL form',
  },
  {
    host: 'cloudformation-custom-resource-response-{regionCompact}.s3.amazonaws.com',
    why: 'the same, global URL form',
  },
];

/** Priority of the block-everything association: ALLOW rule groups of other stacks go below it (lower numbers run first). */
export const EGRESS_FIREWALL_PRIORITY = 1000;

export interface EgressFirewallProps {
  readonly vpc: ec2.IVpc;
  readonly config: CubicleConfig;
}

/**
 * Egress enforced by the network, outside every task: a Route 53 Resolver DNS Firewall on the VPC answers
 * NXDOMAIN for every name except the deployment's allow-list (its providers' API hosts, its connections'
 * hosts and the AWS endpoints above). It stops tools from reaching unlisted hosts by name and DNS
 * tunnelling through the resolver; it does not stop a connection to a literal IP address (README,
 * "Egress"). https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resolver-dns-firewall.html
 */
export class EgressFirewall extends Construct {
  /** The names the VPC may resolve, sorted. */
  readonly allowedDomains: string[];

  constructor(scope: Construct, id: string, props: EgressFirewallProps) {
    super(scope, id);
    this.allowedDomains = egressAllowList(props.config);

    const allowed = new route53resolver.CfnFirewallDomainList(this, 'Allowed', { domains: this.allowedDomains });
    const everything = new route53resolver.CfnFirewallDomainList(this, 'Everything', { domains: ['*'] });
    const rules = new route53resolver.CfnFirewallRuleGroup(this, 'Rules', {
      firewallRules: [
        {
          priority: 100,
          action: 'ALLOW',
          firewallDomainListId: allowed.attrId,
          // Provider and AWS names answer through CNAMEs to CDN and regional names: an allowed name's chain is trusted.
          firewallDomainRedirectionAction: 'TRUST_REDIRECTION_DOMAIN',
        },
        { priority: 200, action: 'BLOCK', blockResponse: 'NXDOMAIN', firewallDomainListId: everything.attrId },
      ],
    });
    new route53resolver.CfnFirewallRuleGroupAssociation(this, 'Association', {
      firewallRuleGroupId: rules.attrId,
      vpcId: props.vpc.vpcId,
      priority: EGRESS_FIREWALL_PRIORITY,
      // Only a deliberate change (this stack) can detach the firewall from the VPC.
      mutationProtection: 'ENABLED',
    });
  }
}

/** The deployment's allow-list: providers' API hosts, connections' hosts, AWS endpoints, and an external OIDC issuer. */
export function egressAllowList(config: CubicleConfig): string[] {
  const fill = (host: string) =>
    host
      .replaceAll('{regionCompact}', config.region.replaceAll('-', ''))
      .replaceAll('{region}', config.region)
      .replaceAll('{account}', config.account);
  const hosts = [
    ...config.providers.flatMap((provider) => providerApiHosts(provider, config.region)),
    ...Object.values(config.connections).flatMap((connection) => connection.hosts),
    ...AWS_ENDPOINTS.map((endpoint) => fill(endpoint.host)),
    ...(config.identity.oidc ? [new URL(config.identity.oidc.issuer).hostname] : []),
    // SES's API, only when the notifier sends mail (runtime/control-plane/notifications.ts).
    ...(config.notifications.email ? [`email.${config.region}.amazonaws.com`] : []),
  ];
  return [...new Set(hosts.map(domainListEntry))].sort();
}

/** DNS Firewall takes lower-case ASCII names, `*.` allowed as the first label only: IDNs become punycode. */
function domainListEntry(host: string): string {
  const wildcard = host.startsWith('*.');
  const ascii = domainToASCII(wildcard ? host.slice(2) : host);
  if (!ascii) throw new Error(`egress allow-list: "${host}" is not a valid host name`);
  return `${wildcard ? '*.' : ''}${ascii}`;
}
