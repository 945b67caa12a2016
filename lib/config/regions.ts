import { z } from 'zod';
import { didYouMean } from './suggest';

/**
 * AWS Regions and their partitions, so a config naming a region that does not exist fails with a clear
 * line at synth instead of a CDK token error (CDK resolves `AWS::Partition` only for regions it knows).
 * Synth never looks regions up on the network.
 *
 * As of 2026-11-28, from https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html,
 * checked against aws-cdk-lib 2.276.0's region table (`RegionInfo.regions`); test/config/regions.test.ts
 * fails when the installed aws-cdk-lib knows a region this list lacks, or lacks one it lists. A region
 * AWS launches later: add it here (with its partition) and upgrade aws-cdk-lib.
 */
export const AWS_REGIONS: Readonly<Record<string, string>> = {
  // Commercial partition ("aws").
  'af-south-1': 'aws',
  'ap-east-1': 'aws',
  'ap-east-2': 'aws',
  'ap-northeast-1': 'aws',
  'ap-northeast-2': 'aws',
  'ap-northeast-3': 'aws',
  'ap-south-1': 'aws',
  'ap-south-2': 'aws',
  'ap-southeast-1': 'aws',
  'ap-southeast-2': 'aws',
  'ap-southeast-3': 'aws',
  'ap-southeast-4': 'aws',
  'ap-southeast-5': 'aws',
  'ap-southeast-6': 'aws',
  'ap-southeast-7': 'aws',
  'ca-central-1': 'aws',
  'ca-west-1': 'aws',
  'eu-central-1': 'aws',
  'eu-central-2': 'aws',
  'eu-north-1': 'aws',
  'eu-south-1': 'aws',
  'eu-south-2': 'aws',
  'eu-west-1': 'aws',
  'eu-west-2': 'aws',
  'eu-west-3': 'aws',
  'il-central-1': 'aws',
  'me-central-1': 'aws',
  'me-south-1': 'aws',
  'me-west-1': 'aws',
  'mx-central-1': 'aws',
  'sa-east-1': 'aws',
  'us-east-1': 'aws',
  'us-east-2': 'aws',
  'us-west-1': 'aws',
  'us-west-2': 'aws',
  // China.
  'cn-north-1': 'aws-cn',
  'cn-northwest-1': 'aws-cn',
  // AWS GovCloud (US).
  'us-gov-east-1': 'aws-us-gov',
  'us-gov-west-1': 'aws-us-gov',
  // AWS European Sovereign Cloud.
  'eusc-de-east-1': 'aws-eusc',
  // Isolated partitions.
  'eu-isoe-west-1': 'aws-iso-e',
  'us-iso-east-1': 'aws-iso',
  'us-iso-west-1': 'aws-iso',
  'us-isob-east-1': 'aws-iso-b',
  'us-isob-west-1': 'aws-iso-b',
  'us-isof-east-1': 'aws-iso-f',
  'us-isof-south-1': 'aws-iso-f',
};

/**
 * The partition Cubicle deploys to. Its edge needs CloudFront, WAF for CloudFront and their us-east-1
 * stacks, which exist only in the commercial partition.
 */
export const SUPPORTED_PARTITION = 'aws';

/** The home regions a config may name. */
export const HOME_REGIONS: readonly string[] = Object.keys(AWS_REGIONS).filter(
  (r) => AWS_REGIONS[r] === SUPPORTED_PARTITION,
);

/** The partition of a region, or undefined when AWS has no such region. */
export function partitionOf(region: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(AWS_REGIONS, region) ? AWS_REGIONS[region] : undefined;
}

/** The config's `region`: a home region, or a line saying why not and which was probably meant. */
export const regionSchema = z
  .string()
  .meta({ enum: HOME_REGIONS })
  .superRefine((value, ctx) => {
    const partition = partitionOf(value);
    if (partition === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `"${value}" is not an AWS region${didYouMean(value, HOME_REGIONS)} (the regions are listed in lib/config/regions.ts; e.g. eu-west-1, us-east-1)`,
      });
    } else if (partition !== SUPPORTED_PARTITION) {
      ctx.addIssue({
        code: 'custom',
        message: `${value} is in the ${partition} partition; Cubicle deploys only to the ${SUPPORTED_PARTITION} partition (its edge needs CloudFront and WAF in us-east-1): choose a region such as eu-west-1`,
      });
    }
  });
