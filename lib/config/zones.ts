import type { CubicleConfig } from './schema';

/** The home region's availability zones: the config's, or the region's first two (synth never asks AWS). */
export function homeZones(config: CubicleConfig): string[] {
  return config.availabilityZones ? [...config.availabilityZones] : [`${config.region}a`, `${config.region}b`];
}
