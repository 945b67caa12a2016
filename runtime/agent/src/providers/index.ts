import type { Provider } from '../../../shared/provider-credentials';
import { claudeAdapter } from './claude';
import { codexAdapter } from './codex';
import { geminiAdapter } from './gemini';
import type { ProviderAdapter } from './types';

export function adapterFor(provider: Provider): ProviderAdapter {
  switch (provider) {
    case 'anthropic':
      return claudeAdapter('anthropic');
    case 'bedrock':
      return claudeAdapter('bedrock');
    case 'openai':
      return codexAdapter();
    case 'google':
      return geminiAdapter();
    default:
      throw new Error(`unknown provider ${JSON.stringify(provider)}`);
  }
}
