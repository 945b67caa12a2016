import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

export interface AgentSecurityGroupsProps {
  readonly vpc: ec2.IVpc;
}

/**
 * Claim 1 (docs/isolation-claims.md) at the network layer: agent tasks accept no inbound connection at all and may
 * only open HTTPS (443) and NFS to the EFS group; EFS accepts NFS from agent tasks and nothing else.
 */
export class AgentSecurityGroups extends Construct {
  readonly agentTasks: ec2.SecurityGroup;
  readonly efs: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: AgentSecurityGroupsProps) {
    super(scope, id);

    this.agentTasks = new ec2.SecurityGroup(this, 'AgentTasks', {
      vpc: props.vpc,
      description: 'Cubicle agent tasks: no ingress; egress HTTPS and NFS to EFS only',
      allowAllOutbound: false,
    });
    this.agentTasks.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'HTTPS to providers, AWS APIs and allow-listed hosts',
    );

    this.efs = new ec2.SecurityGroup(this, 'Efs', {
      vpc: props.vpc,
      description: 'Cubicle EFS mount targets: NFS from agent tasks only',
      allowAllOutbound: false,
    });
    this.efs.addIngressRule(this.agentTasks, ec2.Port.tcp(2049), 'NFS from agent tasks');
    this.agentTasks.addEgressRule(this.efs, ec2.Port.tcp(2049), 'NFS to EFS mount targets');
  }
}
