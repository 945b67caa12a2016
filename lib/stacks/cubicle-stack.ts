import { DefaultStackSynthesizer, Stack, StackProps, Tags } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { CubicleConfig } from '../config/schema';
import { homeZones } from '../config/zones';

export interface CubicleStackProps extends StackProps {
  readonly config: CubicleConfig;
  /** Region of this stack; defaults to the config's home region. */
  readonly region?: string;
}

/**
 * Base of every Cubicle stack: explicit account/region, the configured bootstrap qualifier,
 * and availability zones taken from the config so synth never asks AWS for them.
 */
export class CubicleStack extends Stack {
  private readonly zones: string[];

  constructor(scope: Construct, id: string, props: CubicleStackProps) {
    const { config, region, ...rest } = props;
    super(scope, id, {
      ...rest,
      env: { account: config.account, region: region ?? config.region },
      synthesizer: new DefaultStackSynthesizer({ qualifier: config.bootstrapQualifier }),
    });
    this.zones = homeZones(config);
    Tags.of(this).add('cubicle:deployment', config.name);
  }

  /** Overrides the context lookup (which would call EC2 DescribeAvailabilityZones). */
  override get availabilityZones(): string[] {
    return this.zones;
  }
}
