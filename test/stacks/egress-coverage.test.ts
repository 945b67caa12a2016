import { describe, expect, inject, it } from 'vitest';
import { readAssembly } from '../../scripts/review/assembly';
import { readRoles } from '../../scripts/review/principals';
import { listOf, statementsOf } from '../../scripts/review/policies';
import { resourcesOfType } from '../support/assembly';
import { exampleConfig } from '../support/example-config';

/**
 * The VPC's DNS Firewall answers NXDOMAIN for every name it does not allow (lib/constructs/egress-firewall.ts),
 * and every control-plane function and agent task runs in that VPC. So every AWS endpoint they call must be
 * on an allow-list, or the call fails only once deployed. Read from the example assembly: each VPC
 * function's and task role's AWS services (the prefixes of its IAM actions), the relay URLs the tasks and
 * functions are given, and the archive bucket, against the names the firewall's ALLOW groups list.
 */
const config = exampleConfig();
const assembly = readAssembly(inject('exampleAssemblyDir'));
const region = config.region;

/** The regional endpoint each service's SDK client calls, by IAM prefix; null for calls that need no DNS from the VPC. */
const ENDPOINT_OF: Record<string, string | null> = {
  dynamodb: `dynamodb.${region}.amazonaws.com`,
  kms: `kms.${region}.amazonaws.com`,
  secretsmanager: `secretsmanager.${region}.amazonaws.com`,
  ecs: `ecs.${region}.amazonaws.com`,
  lambda: `lambda.${region}.amazonaws.com`,
  sns: `sns.${region}.amazonaws.com`,
  'cognito-idp': `cognito-idp.${region}.amazonaws.com`,
  sts: `sts.${region}.amazonaws.com`,
  bedrock: `bedrock-runtime.${region}.amazonaws.com`,
  ses: `email.${region}.amazonaws.com`,
  // By resource name, checked below: the archive bucket's host and the relay APIs' hosts.
  s3: null,
  'execute-api': null,
  // No call from the function's code: PassRole is checked by ECS, EFS mounts by the file system's name
  // (allowed as *.efs), X-Ray goes to the Lambda daemon's address, ENIs are the Lambda service's.
  iam: null,
  elasticfilesystem: null,
  xray: null,
  ec2: null,
  logs: null,
  // Lambda's service delivers to the dead-letter queue of an asynchronous invocation, not the function.
  sqs: null,
};

function allowedNames(): string[] {
  const names: string[] = [];
  for (const stack of assembly.stacks) {
    for (const [, list] of resourcesOfType(stack.template, 'AWS::Route53Resolver::FirewallDomainList')) {
      const domains = assembly.resolver.resolve(stack.name, list.Properties.Domains) as string[];
      if (!domains.includes('*')) names.push(...domains); // not the block-everything list
    }
  }
  return names;
}

// DNS names compare without case (the resolver's stand-in ids keep CloudFormation's mixed case).
const matches = (name: string, pattern: string) => {
  const [n, p] = [name.toLowerCase(), pattern.toLowerCase()];
  return p.startsWith('*.') ? n.endsWith(p.slice(1)) : n === p;
};
const allowed = (name: string) => allowedNames().some((pattern) => matches(name, pattern));

describe('every AWS endpoint called from the VPC is let through its DNS Firewall', () => {
  it("each VPC function's and agent task role's services", () => {
    const vpcRoles = new Set<string>();
    for (const stack of assembly.stacks) {
      for (const [, fn] of resourcesOfType(stack.template, 'AWS::Lambda::Function')) {
        if (fn.Properties.VpcConfig) vpcRoles.add(String(assembly.resolver.resolve(stack.name, fn.Properties.Role)));
      }
    }
    const roles = readRoles(assembly).filter((r) => vpcRoles.has(r.arn) || r.path.includes('/agents/'));
    expect(roles.filter((r) => vpcRoles.has(r.arn)).length).toBeGreaterThan(8);
    const missing: string[] = [];
    const unknown = new Set<string>();
    for (const role of roles) {
      const services = new Set(
        statementsOf(role.identityPolicies.map((p) => p.policy))
          .filter(({ statement }) => statement.Effect === 'Allow')
          .flatMap(({ statement }) => listOf(statement.Action).map((a) => a.split(':')[0])),
      );
      for (const service of services) {
        if (!(service in ENDPOINT_OF)) unknown.add(service);
        const host = ENDPOINT_OF[service];
        if (host && !allowed(host)) missing.push(`${role.name}: ${service} (${host})`);
      }
    }
    expect([...unknown]).toEqual([]);
    expect(missing).toEqual([]);
  });

  it("the relay's APIs, as the tasks and the relay functions address them, and the audit archive's bucket", () => {
    const hosts: string[] = [];
    for (const stack of assembly.stacks) {
      const template = stack.template;
      for (const [, td] of resourcesOfType(template, 'AWS::ECS::TaskDefinition')) {
        const env = assembly.resolver.resolve(stack.name, td.Properties.ContainerDefinitions[0].Environment) as {
          Name: string;
          Value: string;
        }[];
        hosts.push(new URL(env.find((e) => e.Name === 'CUBICLE_RELAY_URL')!.Value).hostname);
      }
      for (const [, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
        const variables = (assembly.resolver.resolve(stack.name, fn.Properties.Environment?.Variables ?? {}) ??
          {}) as Record<string, string>;
        for (const [name, value] of Object.entries(variables)) {
          if (/^https:\/\/[^/]+\.execute-api\./.test(value)) hosts.push(new URL(value).hostname);
          if (name === 'CUBICLE_AUDIT_ARCHIVE_BUCKET') hosts.push(`${value}.s3.${region}.amazonaws.com`);
        }
      }
    }
    expect(new Set(hosts.map((h) => h.split('.').slice(1).join('.'))).size).toBeGreaterThanOrEqual(2); // execute-api and s3
    expect(hosts.filter((h) => !allowed(h))).toEqual([]);
  });
});
