import { CfnElement, DefaultStackSynthesizer, Stack, StackProps, Tags } from 'aws-cdk-lib';
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

  /**
   * CDK allocates a logical id (an MD5 of the construct path) again each time a `Ref` or `Fn::GetAtt` to the
   * element resolves, in the reference scan and again in the template: a fifth of a large fleet's synth. A
   * construct's path never changes, so the id is computed once; renames (`renameLogicalId`) still apply on top.
   */
  private readonly allocatedIds = new WeakMap<CfnElement, string>();
  protected override allocateLogicalId(element: CfnElement): string {
    let id = this.allocatedIds.get(element);
    if (id === undefined) {
      id = super.allocateLogicalId(element);
      this.allocatedIds.set(element, id);
    }
    return id;
  }

  /** Overrides the context lookup (which would call EC2 DescribeAvailabilityZones). */
  override get availabilityZones(): string[] {
    return this.zones;
  }
}
