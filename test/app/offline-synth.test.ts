import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../lib/config/load';
import { readTemplates } from '../support/assembly';
import { exampleConfig, minimalConfigText } from '../support/example-config';
import { synthesize } from '../support/synth';

describe('synthesizing twice', () => {
  const first = synthesize(exampleConfig());
  const second = synthesize(exampleConfig());

  it('gives byte-identical templates', () => {
    const a = readTemplates(first.outdir);
    const b = readTemplates(second.outdir);
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const name of a.keys()) {
      const file = `${name}.template.json`;
      expect(readFileSync(path.join(first.outdir, file), 'utf8'), file).toBe(
        readFileSync(path.join(second.outdir, file), 'utf8'),
      );
    }
  });
});

describe('another account and region', () => {
  const config = parseConfigText(
    minimalConfigText({
      name: 'globex',
      account: '"222222222222"',
      region: 'ap-southeast-2',
      availabilityZones: '[ap-southeast-2b, ap-southeast-2c]',
      network: '{ natGateways: 2, interfaceEndpoints: false }',
      bootstrapQualifier: 'globex1',
    }),
  );
  const synthesized = synthesize(config);
  const manifest = JSON.parse(readFileSync(path.join(synthesized.outdir, 'manifest.json'), 'utf8'));

  it('needs no context lookup (nothing for the CLI to ask AWS)', () => {
    expect(manifest.missing).toBeUndefined();
  });

  it('puts each stack in its account and region, the edge in us-east-1', () => {
    expect(manifest.artifacts['globex-Network'].environment).toBe('aws://222222222222/ap-southeast-2');
    expect(manifest.artifacts['globex-Platform'].environment).toBe('aws://222222222222/ap-southeast-2');
    expect(manifest.artifacts['globex-Edge'].environment).toBe('aws://222222222222/us-east-1');
  });

  it('uses the configured zones, NAT count and no interface endpoints', () => {
    const network = synthesized.template('globex-Network');
    const subnets = network.findResources('AWS::EC2::Subnet');
    expect(
      Object.values(subnets)
        .map((s) => s.Properties.AvailabilityZone)
        .sort(),
    ).toEqual(['ap-southeast-2b', 'ap-southeast-2b', 'ap-southeast-2c', 'ap-southeast-2c']);
    network.resourceCountIs('AWS::EC2::NatGateway', 2);
    expect(
      Object.values(network.findResources('AWS::EC2::VPCEndpoint')).map((e) => e.Properties.VpcEndpointType),
    ).toEqual(['Gateway', 'Gateway']);
  });

  it('uses the configured bootstrap qualifier for deploy roles and assets', () => {
    const network = manifest.artifacts['globex-Network'].properties;
    expect(network.assumeRoleArn).toContain('cdk-globex1-deploy-role-222222222222-ap-southeast-2');
    expect(network.requiresBootstrapStackVersion).toBeGreaterThan(0);
  });
});
