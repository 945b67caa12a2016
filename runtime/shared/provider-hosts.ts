/**
 * The hosts each provider's CLI calls (the model API, and where a stored credential of that provider is
 * refreshed), from the provider registry. The egress firewall (lib/constructs/egress-firewall.ts) allows
 * exactly these for the providers a deployment lists. `{region}` is the deployment's home region.
 */
import { providerSpec, type Provider } from './providers';

export function providerApiHosts(provider: Provider, region: string): string[] {
  return providerSpec(provider).apiHosts.map((host) => host.replace('{region}', region));
}
