import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, CfnResource, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { references } from '../../lib/aspects/shape-canonical';
import { createApp } from '../../lib/app';
import {
  assertReferencesWithinTemplate,
  attributeWithinStack,
  refWithinStack,
  renderedApart,
  sharedWithinStack,
} from '../../lib/fleet/intrinsics';
import { ACCOUNT } from '../support/account';
import { exampleTemplates } from '../support/assembly';
import { exampleConfig } from '../support/example-config';
import { testApp } from '../support/synth';

const env = { account: ACCOUNT, region: 'eu-west-1' };

/** A role, and a consumer resource per value: what CDK's own token renders beside what the helper renders. */
function sideBySide(values: (role: iam.CfnRole) => Record<string, [cdk: string, ours: string]>) {
  const stack = new Stack(testApp(), 'Shard', { env });
  const role = new iam.CfnRole(stack, 'Role', { assumeRolePolicyDocument: {} });
  const pairs = values(role);
  for (const [name, [cdk, ours]] of Object.entries(pairs)) {
    new CfnResource(stack, `Cdk${name}`, { type: 'Test::Consumer', properties: { Value: cdk } });
    new CfnResource(stack, `Ours${name}`, { type: 'Test::Consumer', properties: { Value: ours } });
  }
  const template = readTemplate(stack);
  return Object.keys(pairs).map((name) => ({
    name,
    cdk: template.Resources[`Cdk${name}`].Properties.Value,
    ours: template.Resources[`Ours${name}`].Properties.Value,
  }));
}

function readTemplate(stack: Stack) {
  const assembly = (stack.node.root as App).synth();
  return JSON.parse(readFileSync(path.join(assembly.directory, stack.templateFile), 'utf8'));
}

describe('refWithinStack and attributeWithinStack', () => {
  it("render what CDK's attribute tokens render, alone and inside strings", () => {
    const rendered = sideBySide((role) => ({
      Ref: [role.ref, refWithinStack(role)],
      Arn: [role.attrArn, attributeWithinStack(role, 'Arn')],
      RoleIdPattern: [`${role.attrRoleId}:*`, `${attributeWithinStack(role, 'RoleId')}:*`],
      Mixed: [`arn/${role.ref}/${role.attrArn}`, `arn/${refWithinStack(role)}/${attributeWithinStack(role, 'Arn')}`],
    }));
    for (const { name, cdk, ours } of rendered) expect(ours, name).toEqual(cdk);
    expect(rendered[0].ours).toEqual({ Ref: 'Role' });
    expect(rendered[2].ours).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Role', 'RoleId'] }, ':*']] });
  });

  it('fail synth, naming the resource, when used from another stack (CDK would not make the output)', () => {
    const app = testApp();
    const shard = new Stack(app, 'Shard', { env });
    const role = new iam.CfnRole(shard, 'Role', { assumeRolePolicyDocument: {} });
    const other = new Stack(app, 'Other', { env });
    new CfnResource(other, 'Consumer', {
      type: 'Test::Consumer',
      properties: { Value: attributeWithinStack(role, 'Arn') },
    });
    expect(() => app.synth()).toThrow('Shard/Role (Arn) is referenced from Other');
  });

  it('fail synth when the resource is renamed after the reference was made', () => {
    const stack = new Stack(testApp(), 'Shard', { env });
    const role = new iam.CfnRole(stack, 'Role', { assumeRolePolicyDocument: {} });
    new CfnResource(stack, 'Consumer', { type: 'Test::Consumer', properties: { Value: refWithinStack(role) } });
    role.overrideLogicalId('Renamed');
    expect(() => (stack.node.root as App).synth()).toThrow(
      'Shard/Role was renamed to Renamed after a reference to it was made as Role',
    );
  });
});

describe('sharedWithinStack', () => {
  /** A producer stack with a role, and a consumer stack whose resources all use the role's ARN. */
  function crossStack(strength: 'weak' | 'strong', uses: number) {
    const app = new App({
      outdir: testApp().outdir,
      context: { '@aws-cdk/core:defaultCrossStackReferences': strength, 'aws:cdk:bundling-stacks': [] },
    });
    const producer = new Stack(app, 'Platform', { env });
    const role = new iam.CfnRole(producer, 'Role', { assumeRolePolicyDocument: {} });
    const consumer = new Stack(app, 'Shard', { env });
    let resolutions = 0;
    // Counts how often CDK resolves the underlying reference, whatever the number of uses.
    const counted = Token.asString({
      creationStack: [],
      resolve: (context: { resolve(x: unknown): unknown }) => {
        resolutions += 1;
        return context.resolve(role.attrArn);
      },
    });
    const shared = sharedWithinStack(consumer, counted);
    // Asked for again (each cell asks for its image's URI), the same value is the same token.
    expect(sharedWithinStack(consumer, counted)).toBe(shared);
    // As a cdk-nag rule does before the references are assigned: the producer's side, never kept.
    const early = consumer.resolve(shared);
    const direct = new CfnResource(consumer, 'Direct', { type: 'Test::Consumer', properties: { Value: role.attrArn } });
    for (let i = 0; i < uses; i += 1) {
      new CfnResource(consumer, `Cell${i}`, {
        type: 'Test::Consumer',
        properties: { Arn: shared, Pattern: `${shared}/*` },
      });
    }
    app.synth();
    const template = readTemplate(consumer);
    const producerTemplate = readTemplate(producer);
    return {
      template,
      producerTemplate,
      direct: template.Resources[consumer.getLogicalId(direct)],
      early,
      resolutions: () => resolutions,
    };
  }

  it('renders the consumer side CDK renders (Fn::GetStackOutput) at every use, and CDK resolves it a fixed number of times', () => {
    const { template, producerTemplate, direct, early, resolutions } = crossStack('weak', 40);
    expect(early).toEqual({ 'Fn::GetAtt': ['Role', 'Arn'] });
    expect(direct.Properties.Value['Fn::GetStackOutput']).toBeDefined();
    for (let i = 0; i < 40; i += 1) {
      const cell = template.Resources[`Cell${i}`].Properties;
      expect(cell.Arn).toEqual(direct.Properties.Value);
      expect(cell.Pattern).toEqual({ 'Fn::Join': ['', [direct.Properties.Value, '/*']] });
    }
    // The producer publishes the value once.
    const outputName = direct.Properties.Value['Fn::GetStackOutput'].OutputName;
    expect(Object.keys(producerTemplate.Outputs ?? {}).filter((k) => k === outputName)).toHaveLength(1);
    // Once early, once in the reference scan, once rendered for the template: not once per use and phase (80+).
    expect(resolutions()).toBe(3);
  });

  it('renders Fn::ImportValue for a strong reference, as CDK does', () => {
    const { template, direct } = crossStack('strong', 3);
    expect(direct.Properties.Value['Fn::ImportValue']).toBeDefined();
    for (let i = 0; i < 3; i += 1)
      expect(template.Resources[`Cell${i}`].Properties.Arn).toEqual(direct.Properties.Value);
  });

  it('returns a plain string as it is, and fails synth when used from another stack', () => {
    const app = testApp();
    const shard = new Stack(app, 'Shard', { env });
    expect(sharedWithinStack(shard, 'plain')).toBe('plain');
    const producer = new Stack(app, 'Platform', { env });
    const role = new iam.CfnRole(producer, 'Role', { assumeRolePolicyDocument: {} });
    const other = new Stack(app, 'Other', { env });
    new CfnResource(other, 'Consumer', {
      type: 'Test::Consumer',
      properties: { Value: sharedWithinStack(shard, role.attrArn) },
    });
    expect(() => app.synth()).toThrow('a value shared within Shard is referenced from Other');
  });
});

describe('renderedApart', () => {
  it("keeps a cell out of CDK's reference scan and renders it once; its template, the producer's output and the stacks' order stay", () => {
    const app = testApp();
    const producer = new Stack(app, 'Platform', { env });
    const role = new iam.CfnRole(producer, 'Role', { assumeRolePolicyDocument: {} });
    const consumer = new Stack(app, 'Shard', { env });
    const phases = { scan: 0, template: 0 };
    // Counts how often the cell's properties resolve, in the scan and in the template.
    const counted = Token.asString({
      creationStack: [],
      resolve: (context: { preparing: boolean }) => {
        phases[context.preparing ? 'scan' : 'template'] += 1;
        return 'counted';
      },
    });
    const cell = new CfnResource(consumer, 'Cell', {
      type: 'Test::Consumer',
      properties: { Arn: sharedWithinStack(consumer, role.attrArn), Counted: counted },
    });
    renderedApart(cell);
    app.synth();
    const template = readTemplate(consumer);
    expect(phases).toEqual({ scan: 0, template: 1 });
    const arn = template.Resources.Cell.Properties.Arn['Fn::GetStackOutput'];
    expect(arn).toMatchObject({ StackName: 'Platform' });
    expect(Object.keys(readTemplate(producer).Outputs)).toContain(arn.OutputName);
    expect(template.Resources.Cell.Properties.Counted).toBe('counted');
    // The scan still found the shared value (in the stack's sightings): the shard deploys after the platform.
    expect(consumer.dependencies).toContain(producer);
    // The sightings render nothing.
    expect(Object.keys(template.Resources).sort()).toEqual(['Cell']);
  });

  it('renders byte for byte what CDK renders, its own resources first, then the ones apart in construct order', () => {
    const render = (apart: boolean) => {
      const app = testApp();
      const producer = new Stack(app, 'Platform', { env });
      const shared = new iam.CfnRole(producer, 'Shared', { assumeRolePolicyDocument: {} });
      const stack = new Stack(app, 'Shard', { env });
      new CfnResource(stack, 'Storage', { type: 'Test::Storage', properties: { Size: 1 } });
      const user = new Construct(stack, 'UserA');
      const role = new iam.CfnRole(user, 'Role', {
        assumeRolePolicyDocument: {
          Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' } }],
        },
        tags: [{ key: 'cubicle:user', value: 'a' }],
      });
      const policy = new iam.CfnPolicy(user, 'Policy', {
        policyName: 'p',
        roles: [refWithinStack(role)],
        policyDocument: {
          Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `${attributeWithinStack(role, 'Arn')}/x` }],
        },
      });
      policy.addDependency(role);
      policy.cfnOptions.metadata = { note: 'kept' };
      policy.applyRemovalPolicy(RemovalPolicy.RETAIN);
      const uses = new CfnResource(user, 'Uses', {
        type: 'Test::Consumer',
        properties: { Arn: sharedWithinStack(stack, shared.attrArn) },
      });
      // An override: CDK renders this one itself (renderedOnce renders what cells set, and no raw overrides).
      uses.addPropertyOverride('Extra.Nested', 'overridden');
      new CfnResource(user, 'Empty', { type: 'Test::Empty' });
      if (apart) renderedApart(user);
      return readFileSync(path.join(app.synth().directory, 'Shard.template.json'), 'utf8');
    };
    const cdk = render(false);
    expect(render(true)).toBe(cdk);
    const resources = JSON.parse(cdk).Resources;
    expect(Object.keys(resources).map((id) => id.replace(/[0-9A-F]{8}$/, ''))).toEqual([
      'Storage',
      'UserARole',
      'UserAPolicy',
      'UserAUses',
      'UserAEmpty',
    ]);
    // What the comparison covers: references within the stack, a shared value, DependsOn with the deletion and
    // replacement policies and metadata, an override, no properties, tags.
    const [, roleId, policyId, usesId, emptyId] = Object.keys(resources);
    expect(Object.keys(resources[policyId])).toEqual([
      'Type',
      'Properties',
      'DependsOn',
      'UpdateReplacePolicy',
      'DeletionPolicy',
      'Metadata',
    ]);
    expect(resources[policyId]).toMatchObject({
      DependsOn: [roleId],
      DeletionPolicy: 'Retain',
      Metadata: { note: 'kept' },
      Properties: { PolicyName: 'p', Roles: [{ Ref: roleId }] },
    });
    expect(resources[usesId].Properties.Extra).toEqual({ Nested: 'overridden' });
    expect(resources[emptyId]).toEqual({ Type: 'Test::Empty' });
    expect(JSON.stringify(resources[policyId].Properties.PolicyDocument)).toContain(
      `{"Fn::GetAtt":["${roleId}","Arn"]}`,
    );
    expect(resources[usesId].Properties.Arn).toHaveProperty('Fn::GetStackOutput');
    expect(resources[roleId].Properties.Tags).toEqual([{ Key: 'cubicle:user', Value: 'a' }]);
  });

  it('a logical id rendered both apart and by CDK fails synth, naming it', () => {
    const app = testApp();
    const stack = new Stack(app, 'Shard', { env });
    const user = new Construct(stack, 'UserA');
    new CfnResource(user, 'Cell', { type: 'Test::Cell' }).overrideLogicalId('Same');
    renderedApart(user);
    new CfnResource(stack, 'Other', { type: 'Test::Other' }).overrideLogicalId('Same');
    expect(() => app.synth()).toThrow('Shard: Shard/UserA/Cell renders Resources Same, which the template already has');
  });

  it('a cell that names another stack directly is refused when the Fleet stack renders, naming both', () => {
    const app = testApp();
    const stacks = createApp(app, exampleConfig());
    const [fleet] = stacks.fleets;
    const cell = [...fleet.cells.values()][0];
    // An escape hatch that bypasses sharedWithinStack with a value no other resource of the shard takes (the mount
    // targets take the VPC's subnets, not the VPC): the scan never sees it, so CDK renders the producer's own Ref.
    cell.role.addPropertyOverride('Description', stacks.network.vpc.vpcId);
    const vpc = stacks.network.getLogicalId(stacks.network.vpc.node.defaultChild as CfnResource);
    expect(() => app.synth()).toThrow(
      `${fleet.stackName}: ${fleet.getLogicalId(cell.role)} names ${vpc}, which is not in this stack; a Fleet cell takes another stack's values through sharedWithinStack (lib/fleet/intrinsics.ts)`,
    );
  }, 60_000);

  it('accepts its own resources, parameters and pseudo parameters; refuses anything else a resource points at', () => {
    const template = {
      Parameters: { BootstrapVersion: {} },
      Resources: {
        Key: { Properties: {} },
        Secret: {
          DependsOn: ['Key'],
          Properties: {
            KmsKeyId: { 'Fn::GetAtt': ['Key', 'Arn'] },
            Region: { Ref: 'AWS::Region' },
            Image: { 'Fn::Sub': '111111111111.dkr.ecr.eu-west-1.${AWS::URLSuffix}/repo:${Key.Arn}' },
          },
        },
        Rule: { Properties: { Version: { Ref: 'BootstrapVersion' }, Tags: [{ Value: { Ref: 'Key' } }] } },
      },
    };
    expect(() => assertReferencesWithinTemplate('Shard', template)).not.toThrow();
    const refused = (bad: object) => () =>
      assertReferencesWithinTemplate('Shard', { ...template, Resources: { ...template.Resources, Bad: bad } });
    const message = 'Shard: Bad names Elsewhere, which is not in this stack';
    expect(refused({ Properties: { A: [{ B: { Ref: 'Elsewhere' } }] } })).toThrow(message);
    expect(refused({ Properties: { A: { 'Fn::GetAtt': ['Elsewhere', 'Arn'] } } })).toThrow(message);
    expect(refused({ Properties: { A: { 'Fn::Sub': 'arn:${Elsewhere.Arn}/${AWS::Region}' } } })).toThrow(message);
    expect(refused({ DependsOn: ['Key', 'Elsewhere'], Properties: {} })).toThrow(message);
  });
});

describe('the Fleet stacks', () => {
  it('name only resources of their own template, and only outputs their producers publish', () => {
    const templates = exampleTemplates();
    const fleets = [...templates].filter(([name]) => name.includes('-Fleet-')).map(([, template]) => template);
    expect(fleets.length).toBeGreaterThan(0);
    let refs = 0;
    let outputs = 0;
    const outputsNamed = (value: unknown): void => {
      if (value === null || typeof value !== 'object') return;
      const output = (value as Record<string, any>)['Fn::GetStackOutput'];
      if (output) {
        const { StackName, OutputName } = output;
        expect(Object.keys(templates.get(StackName)?.Outputs ?? {}), `${StackName} publishes ${OutputName}`).toContain(
          OutputName,
        );
        outputs += 1;
      }
      Object.values(value).forEach(outputsNamed);
    };
    for (const fleet of fleets) {
      const own = Object.keys(fleet.Resources);
      for (const resource of Object.values(fleet.Resources)) {
        for (const id of references(resource)) {
          if (id.startsWith('AWS::') || id === 'BootstrapVersion') continue;
          expect(own).toContain(id);
          refs += 1;
        }
        outputsNamed(resource);
      }
    }
    // Every cell names its file system, access point, role, key and secrets, and the platform's values.
    expect(refs).toBeGreaterThan(20 * fleets.length);
    expect(outputs).toBeGreaterThan(5 * fleets.length);
  });
});
