/**
 * The hosts each provider's CLI calls: the model API, and where a stored credential of that provider is
 * refreshed. One list per provider; the egress firewall (lib/constructs/egress-firewall.ts) allows exactly
 * these for the providers a deployment lists. `{region}` is the deployment's home region.
 */
import type { Provider } from './provider-credentials';

export const PROVIDER_API_HOSTS = {
  /** Claude Code: the Messages API, for Console keys and Pro/Max subscription tokens alike. */
  anthropic: ['api.anthropic.com'],
  /** Codex CLI: the API (API keys), the ChatGPT backend and its token refresh (ChatGPT plan access tokens). */
  openai: ['api.openai.com', 'chatgpt.com', 'auth.openai.com'],
  /** Gemini CLI: the Gemini API (API keys), Code Assist and Google's token endpoint ("Login with Google"). */
  google: ['generativelanguage.googleapis.com', 'cloudcode-pa.googleapis.com', 'oauth2.googleapis.com'],
  /** Claude Code on Bedrock: the runtime endpoint of the home region (inference profiles route from there). */
  bedrock: ['bedrock-runtime.{region}.amazonaws.com'],
} as const satisfies Record<Provider, readonly string[]>;

export function providerApiHosts(provider: Provider, region: string): string[] {
  return PROVIDER_API_HOSTS[provider].map((host) => host.replace('{region}', region));
}
