import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as route53resolver from 'aws-cdk-lib/aws-route53resolver';
import { Construct } from 'constructs';
import { EGRESS_FIREWALL_PRIORITY } from './egress-firewall';

/** Runs before the Network stack's block-everything group (lower numbers first), after nothing else. */
export const CONTROL_PLANE_EGRESS_PRIORITY = EGRESS_FIREWALL_PRIORITY - 100;

/** A name this stack's resources are reached by, and who resolves it. */
export interface EgressHost {
  readonly host: string;
  readonly why: string;
}

/**
 * The names the VPC's DNS Firewall (lib/constructs/egress-firewall.ts) must also let resolve that only
 * this stack knows: the relay's two WebSocket APIs (agent tasks connect to the runtime API; the relay's
 * functions post to both APIs' @connections) and the audit archive's bucket (its archiver writes there).
 * Each is this deployment's own resource by its exact name, never a wildcard under amazonaws.com: the
 * Network stack cannot list them without depending on this stack, so this stack adds an ALLOW group ahead
 * of the block-everything one. Without it, those names answer NXDOMAIN inside the VPC.
 */
export class ControlPlaneEgress extends Construct {
  constructor(scope: Construct, id: string, props: { readonly vpc: ec2.IVpc; readonly hosts: readonly EgressHost[] }) {
    super(scope, id);
    const list = new route53resolver.CfnFirewallDomainList(this, 'Allowed', {
      domains: props.hosts.map((h) => h.host),
    });
    const rules = new route53resolver.CfnFirewallRuleGroup(this, 'Rules', {
      firewallRules: [
        {
          priority: 100,
          action: 'ALLOW',
          firewallDomainListId: list.attrId,
          firewallDomainRedirectionAction: 'TRUST_REDIRECTION_DOMAIN',
        },
      ],
    });
    new route53resolver.CfnFirewallRuleGroupAssociation(this, 'Association', {
      firewallRuleGroupId: rules.attrId,
      vpcId: props.vpc.vpcId,
      priority: CONTROL_PLANE_EGRESS_PRIORITY,
      mutationProtection: 'ENABLED',
    });
  }
}
