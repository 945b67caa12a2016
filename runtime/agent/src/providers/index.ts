import { providerSpec, type Provider } from '../../../shared/providers';
import { claudeAdapter } from './claude';
import { codexAdapter } from './codex';
import { geminiAdapter } from './gemini';
import type { ProviderAdapter } from './types';

/** The adapter of the provider's CLI (runtime/shared/providers.ts): one per CLI, told which provider it serves. */
export function adapterFor(provider: Provider): ProviderAdapter {
  const cli = providerSpec(provider)?.cli;
  switch (cli) {
    case 'claude':
      return claudeAdapter(provider as 'anthropic' | 'bedrock');
    case 'codex':
      return codexAdapter(provider);
    case 'gemini':
      return geminiAdapter();
    default:
      throw new Error(`unknown provider ${JSON.stringify(provider)}`);
  }
}
