import { RegionInfo } from 'aws-cdk-lib/region-info';
import { describe, expect, it } from 'vitest';
import { AWS_REGIONS, HOME_REGIONS, partitionOf } from '../../lib/config/regions';
import { parseConfigText } from '../../lib/config/load';
import { minimalConfigText } from '../support/example-config';
import { problemLines } from '../support/config-problems';

describe('the region list', () => {
  it('is the region table of the installed aws-cdk-lib, partition for partition (a new region means updating both)', () => {
    const cdk = Object.fromEntries(RegionInfo.regions.map((r) => [r.name, r.partition]));
    expect(AWS_REGIONS).toEqual(cdk);
  });

  it('offers only commercial-partition regions as homes, every one with a partition CDK resolves to a literal', () => {
    expect(HOME_REGIONS).toContain('eu-west-1');
    expect(HOME_REGIONS).not.toContain('cn-north-1');
    for (const region of HOME_REGIONS) expect(RegionInfo.get(region).partition, region).toBe('aws');
    expect(partitionOf('eu-central-3')).toBeUndefined();
    expect(partitionOf('toString')).toBeUndefined();
  });
});

describe('region in the config', () => {
  it('names an unknown region and suggests the nearest real one', () => {
    expect(problemLines(minimalConfigText({ region: 'eu-centrl-1' }))).toEqual([
      'region: "eu-centrl-1" is not an AWS region — did you mean "eu-central-1"? (the regions are listed in lib/config/regions.ts; e.g. eu-west-1, us-east-1)',
    ]);
    expect(problemLines(minimalConfigText({ region: 'eu-central-3' }))).toEqual([
      'region: "eu-central-3" is not an AWS region — did you mean "eu-central-1" or "eu-central-2"? (the regions are listed in lib/config/regions.ts; e.g. eu-west-1, us-east-1)',
    ]);
  });

  it('refuses a real region of another partition, saying why', () => {
    expect(problemLines(minimalConfigText({ region: 'cn-north-1' }))).toEqual([
      'region: cn-north-1 is in the aws-cn partition; Cubicle deploys only to the aws partition (its edge needs CloudFront and WAF in us-east-1): choose a region such as eu-west-1',
    ]);
  });

  it('accepts every home region', () => {
    for (const region of HOME_REGIONS) expect(parseConfigText(minimalConfigText({ region })).region).toBe(region);
  });
});
