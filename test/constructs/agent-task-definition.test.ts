/**
 * AgentTaskDefinition renders a cell's task definition itself (lib/constructs/agent-task-definition.ts): the
 * same CloudFormation as ecs.CfnTaskDefinition, byte for byte, for the properties a cell sets, and a clear
 * synth error for any other.
 */
import { Stack, Tags } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { containerDefinitions, ephemeralVolumes, VOLUMES } from '../../lib/constructs/agent-containers';
import { AgentTaskDefinition } from '../../lib/constructs/agent-task-definition';
import { testStack } from '../support/synth';

/** A cell's properties, with references (a role's ARN and unique id) where the cell has them. */
function cellProps(stack: Stack): ecs.CfnTaskDefinitionProps {
  const role = new iam.CfnRole(stack, 'Role', { assumeRolePolicyDocument: { Version: '2012-10-17', Statement: [] } });
  return {
    family: 'acme-u1_sales',
    requiresCompatibilities: ['FARGATE'],
    networkMode: 'awsvpc',
    cpu: '1024',
    memory: '2048',
    runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' },
    executionRoleArn: `arn:${stack.partition}:iam::${stack.account}:role/execution`,
    taskRoleArn: role.attrArn,
    volumes: [
      {
        name: VOLUMES.workspace,
        efsVolumeConfiguration: {
          filesystemId: 'fs-12345678',
          transitEncryption: 'ENABLED',
          authorizationConfig: { accessPointId: role.attrRoleId, iam: 'ENABLED' },
        },
      },
      ...ephemeralVolumes(),
    ],
    containerDefinitions: containerDefinitions({
      image: `${stack.account}.dkr.ecr.${stack.region}.${stack.urlSuffix}/agent:tag`,
      taskMemoryMiB: 2048,
      environment: [
        { name: 'CUBICLE_USER_ID', value: 'u1' },
        { name: 'CUBICLE_ROLE', value: `${role.attrRoleId}:*` },
      ],
      log: { group: 'agent-logs', region: stack.region, streamPrefix: 'u1/sales' },
    }),
  };
}

function rendered(stack: Stack, resource: ecs.CfnTaskDefinition): string {
  const template = Template.fromStack(stack).toJSON();
  return JSON.stringify(template.Resources[stack.resolve(resource.logicalId)]);
}

describe('AgentTaskDefinition', () => {
  it('renders exactly what ecs.CfnTaskDefinition renders (names, key order, values, tags)', () => {
    const stack = testStack();
    const props = cellProps(stack);
    const cdk = new ecs.CfnTaskDefinition(stack, 'Cdk', props);
    const ours = new AgentTaskDefinition(stack, 'Ours', props);
    for (const resource of [cdk, ours]) {
      Tags.of(resource).add('user_id', 'u1');
      Tags.of(resource).add('agent_id', 'sales');
    }
    const expected = rendered(stack, cdk);
    expect(expected).toContain('"EFSVolumeConfiguration"');
    expect(expected).toContain('"awslogs-stream-prefix":"u1/sales"');
    expect(rendered(stack, ours)).toBe(expected);
  });

  it('keeps property overrides and stays an ecs.CfnTaskDefinition (what cdk-nag inspects)', () => {
    const stack = testStack();
    const ours = new AgentTaskDefinition(stack, 'Ours', cellProps(stack));
    ours.addPropertyOverride('ContainerDefinitions.0.Privileged', true);
    expect(ours).toBeInstanceOf(ecs.CfnTaskDefinition);
    expect(JSON.parse(rendered(stack, ours)).Properties.ContainerDefinitions[0].Privileged).toBe(true);
  });

  it('fails synth naming a property it has no CloudFormation name for', () => {
    const stack = testStack();
    new AgentTaskDefinition(stack, 'Ours', { ...cellProps(stack), pidMode: 'task' });
    expect(() => Template.fromStack(stack)).toThrow(/Properties\.pidMode: not a property AgentTaskDefinition renders/);
  });
});
