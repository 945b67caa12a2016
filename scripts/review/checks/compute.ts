import { Assembly, ResourceRef } from '../assembly';
import { Check, code, outcome, ratio } from './types';

/** Claim 1: each pair's own Fargate task, locked down, in private subnets behind a no-ingress security group. */

const WORKSPACE = '/workspace';

export const taskDefinitions: Check = {
  id: 'compute.task-definitions',
  claim: 1,
  title:
    'Each pair has its own task definition: Fargate, awsvpc, read-only root, all capabilities dropped, non-root, not privileged; only /workspace persists',
  run({ fleet }) {
    const findings: string[] = [...fleet.strays.filter((s) => s.startsWith('task definition'))];
    let containers = 0;
    const users = new Set<string>();
    const volumes = new Set<string>();
    for (const pair of fleet.pairs) {
      const who = `${pair.userId}/${pair.agentId}`;
      if (pair.taskDefinitions.length !== 1)
        findings.push(`${who} has ${pair.taskDefinitions.length} task definitions (expected exactly one)`);
      for (const td of pair.taskDefinitions) {
        const where = `${who} ${td.stack} ${td.logicalId}`;
        const p = td.props;
        if (!(p.RequiresCompatibilities ?? []).includes('FARGATE'))
          findings.push(`${where}: not a Fargate task definition`);
        if (p.NetworkMode !== 'awsvpc')
          findings.push(`${where}: NetworkMode is ${p.NetworkMode ?? 'unset'}, not awsvpc`);
        if (p.PidMode === 'host' || p.IpcMode === 'host')
          findings.push(`${where}: shares the host's PID or IPC namespace`);
        const ephemeral = new Set<string>();
        const efs = new Set<string>();
        for (const volume of p.Volumes ?? []) {
          volumes.add(volume.EFSVolumeConfiguration ? `${volume.Name} (EFS)` : `${volume.Name} (ephemeral)`);
          if (volume.Host?.SourcePath || volume.DockerVolumeConfiguration)
            findings.push(`${where}: volume ${volume.Name} is a host path or Docker volume`);
          else if (volume.EFSVolumeConfiguration) efs.add(volume.Name);
          else ephemeral.add(volume.Name);
        }
        for (const c of p.ContainerDefinitions ?? []) {
          containers += 1;
          const container = `${where} container ${c.Name}`;
          users.add(String(c.User));
          if (c.ReadonlyRootFilesystem !== true) findings.push(`${container}: root filesystem is writable`);
          if (c.Privileged === true) findings.push(`${container}: privileged`);
          if (!isNonRoot(c.User))
            findings.push(
              `${container}: runs as ${c.User ?? 'the image default (root unless the image says otherwise)'}, not a numeric non-root uid:gid`,
            );
          const caps = c.LinuxParameters?.Capabilities ?? {};
          if (!(caps.Drop ?? []).includes('ALL')) findings.push(`${container}: does not drop ALL Linux capabilities`);
          if ((caps.Add ?? []).length > 0) findings.push(`${container}: adds capabilities ${caps.Add.join(', ')}`);
          for (const mount of c.MountPoints ?? []) {
            if (efs.has(mount.SourceVolume) && mount.ReadOnly !== true && mount.ContainerPath !== WORKSPACE) {
              findings.push(
                `${container}: persistent volume ${mount.SourceVolume} is writable at ${mount.ContainerPath}, not ${WORKSPACE}`,
              );
            }
          }
        }
      }
    }
    const n = fleet.taskDefinitions.length;
    return outcome(
      [
        `${n} task definitions for ${fleet.pairs.length} pairs, ${containers} containers; container users ${[...users].map(code).join(', ') || 'none'}`,
        `every container: read-only root, capabilities ${code({ Drop: ['ALL'] })}, not privileged, unless listed below`,
        `volumes: ${[...volumes].sort().map(code).join(', ') || 'none'}; the only writable persistent path is ${code(WORKSPACE)}`,
      ],
      findings,
    );
  },
};

export const agentNetwork: Check = {
  id: 'compute.network',
  claim: 1,
  title:
    "Agent tasks' security group has no ingress and egress only HTTPS and NFS to the EFS mount targets; their subnets are private",
  run({ assembly }) {
    const findings: string[] = [];
    const groups = agentSecurityGroups(assembly);
    if (groups.length === 0)
      findings.push(
        'no agent security group found: no function passes CUBICLE_SECURITY_GROUP_IDS and no security group sits at a construct path ending in AgentTasks',
      );
    const efsGroups = new Set(
      assembly
        .resources('AWS::EFS::MountTarget')
        .flatMap((mt) => (assembly.props(mt).SecurityGroups ?? []).map(String)),
    );
    const evidence: string[] = [];
    for (const group of groups) {
      const id = assembly.resolver.getAtt(group.stack, group.logicalId, 'GroupId');
      const props = assembly.props(group);
      const ingress = [
        ...(props.SecurityGroupIngress ?? []),
        ...assembly
          .resources('AWS::EC2::SecurityGroupIngress')
          .map((r) => assembly.props(r))
          .filter((p) => p.GroupId === id),
      ];
      const egress = [
        ...(props.SecurityGroupEgress ?? []),
        ...assembly
          .resources('AWS::EC2::SecurityGroupEgress')
          .map((r) => assembly.props(r))
          .filter((p) => p.GroupId === id),
      ];
      for (const rule of ingress) findings.push(`${group.stack} ${group.logicalId}: ingress ${describeRule(rule)}`);
      for (const rule of egress) {
        const https = rule.IpProtocol === 'tcp' && rule.FromPort === 443 && rule.ToPort === 443;
        const nfs =
          rule.IpProtocol === 'tcp' &&
          rule.FromPort === 2049 &&
          rule.ToPort === 2049 &&
          efsGroups.has(String(rule.DestinationSecurityGroupId));
        if (!https && !nfs)
          findings.push(
            `${group.stack} ${group.logicalId}: egress ${describeRule(rule)} (only tcp 443, and tcp 2049 to the EFS mount targets' group, are expected)`,
          );
      }
      evidence.push(
        `${group.stack} ${group.logicalId}: ingress rules ${ingress.length}; egress ${egress.map(describeRule).map(code).join(', ')}`,
      );
    }
    const subnets = agentSubnets(assembly);
    const routes = routesBySubnet(assembly);
    for (const subnet of subnets) {
      const props = assembly.props(subnet);
      if (props.MapPublicIpOnLaunch === true)
        findings.push(`subnet ${subnet.stack} ${subnet.logicalId} assigns public IPs`);
      const toIgw = (routes.get(assembly.resolver.ref(subnet.stack, subnet.logicalId)) ?? []).filter(
        (r) => String(r.GatewayId ?? '').length > 0 && isInternetGateway(assembly, String(r.GatewayId)),
      );
      if (toIgw.length > 0)
        findings.push(
          `subnet ${subnet.stack} ${subnet.logicalId} routes to an internet gateway: tasks launched there are public`,
        );
    }
    evidence.push(
      `${subnets.length} subnets passed to RunTask (CUBICLE_SUBNET_IDS): ${ratio(subnets.filter((s) => assembly.props(s).MapPublicIpOnLaunch !== true).length, subnets.length)} without public IPs, none routing to an internet gateway unless listed below`,
    );
    return outcome(evidence, findings);
  },
};

/** Security groups the control plane passes to RunTask (CUBICLE_SECURITY_GROUP_IDS), and any at `.../AgentTasks`. */
export function agentSecurityGroups(assembly: Assembly): ResourceRef[] {
  const ids = new Set(functionEnv(assembly, 'CUBICLE_SECURITY_GROUP_IDS').flatMap((v) => v.split(',')));
  return assembly
    .resources('AWS::EC2::SecurityGroup')
    .filter(
      (g) =>
        ids.has(assembly.resolver.getAtt(g.stack, g.logicalId, 'GroupId')) ||
        /\/AgentTasks(\/|$)/.test(assembly.constructPath(g.stack, g.logicalId)),
    );
}

function agentSubnets(assembly: Assembly): ResourceRef[] {
  const ids = new Set(functionEnv(assembly, 'CUBICLE_SUBNET_IDS').flatMap((v) => v.split(',')));
  return assembly.resources('AWS::EC2::Subnet').filter((s) => ids.has(assembly.resolver.ref(s.stack, s.logicalId)));
}

/** Values of an environment variable across the assembly's Lambda functions. */
export function functionEnv(assembly: Assembly, name: string): string[] {
  return assembly
    .resources('AWS::Lambda::Function')
    .map((f) => assembly.props(f).Environment?.Variables?.[name])
    .filter((v): v is string => typeof v === 'string');
}

function routesBySubnet(assembly: Assembly): Map<string, any[]> {
  const routesByTable = new Map<string, any[]>();
  for (const route of assembly.resources('AWS::EC2::Route')) {
    const props = assembly.props(route);
    routesByTable.set(String(props.RouteTableId), [...(routesByTable.get(String(props.RouteTableId)) ?? []), props]);
  }
  const out = new Map<string, any[]>();
  for (const association of assembly.resources('AWS::EC2::SubnetRouteTableAssociation')) {
    const props = assembly.props(association);
    out.set(String(props.SubnetId), routesByTable.get(String(props.RouteTableId)) ?? []);
  }
  return out;
}

function isInternetGateway(assembly: Assembly, id: string): boolean {
  return (
    assembly.resources('AWS::EC2::InternetGateway').some((g) => assembly.resolver.ref(g.stack, g.logicalId) === id) ||
    id.startsWith('igw-')
  );
}

function isNonRoot(user: unknown): boolean {
  const match = /^(\d+)(?::(\d+))?$/.exec(String(user ?? ''));
  return match !== null && Number(match[1]) !== 0 && (match[2] === undefined || Number(match[2]) !== 0);
}

export function describeRule(rule: any): string {
  const peer =
    rule.CidrIp ??
    rule.CidrIpv6 ??
    rule.DestinationSecurityGroupId ??
    rule.SourceSecurityGroupId ??
    rule.DestinationPrefixListId ??
    rule.SourcePrefixListId ??
    '?';
  const ports = rule.FromPort === rule.ToPort ? `${rule.FromPort}` : `${rule.FromPort}-${rule.ToPort}`;
  return `${rule.IpProtocol} ${ports} ${typeof peer === 'string' ? peer : JSON.stringify(peer)}`;
}
