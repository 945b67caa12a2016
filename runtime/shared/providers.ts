/**
 * The providers Cubicle runs agents for: one entry each, and everything else derives from it (the
 * config's provider list, which providers need a stored credential and of which kinds, the CLI and
 * image per provider, the hosts the egress firewall allows, the token shapes the redactor and the
 * CloudWatch data-protection policy mask). Adding a provider is an entry here plus, when its CLI is
 * new, an adapter in runtime/agent/src/providers/ (test/runtime/shared/providers.test.ts fails when a
 * provider lacks a part). Plain data: the console bundles it.
 */

/** The headless CLIs the agent images ship (one image per CLI, lib/constructs/agent-images.ts). */
export type AgentCli = 'claude' | 'codex' | 'gemini';

/** A token shape: the CloudWatch custom data identifier's name and the regex both it and the redactor use. */
export interface TokenShape {
  /** CloudWatch custom data identifier name (letters and digits). */
  readonly name: string;
  /** RE2-compatible (CloudWatch), no flags, no lookaround; the redactor adds a word boundary in front. */
  readonly regex: string;
}

/** A provider Codex reaches through a custom model provider (an OpenAI Responses-compatible API). */
export interface CodexModelProvider {
  /** Key under `model_providers` in Codex's config. */
  readonly id: string;
  readonly name: string;
  readonly baseUrl: string;
  /** The variable Codex reads the API key from. */
  readonly envKey: string;
  /** The model an agent of this provider uses. */
  readonly model: string;
}

export interface ProviderSpec {
  /** How the console and the README name it. */
  readonly title: string;
  readonly cli: AgentCli;
  /** What an employee may store for it (empty: the agent uses its task role, nothing is stored). */
  readonly credentialKinds: readonly string[];
  /** Hosts its CLI calls (model API, token refresh); `{region}` is the deployment's home region. */
  readonly apiHosts: readonly string[];
  /** Shapes of its keys and tokens, masked in logs and events wherever they appear. */
  readonly tokenShapes: readonly TokenShape[];
  /** For providers Codex reaches as a custom model provider. */
  readonly codex?: CodexModelProvider;
}

export const PROVIDER_REGISTRY = {
  /** Claude Code: `api-key` (Console key → ANTHROPIC_API_KEY) or `oauth-token` (Pro/Max, `claude setup-token` → CLAUDE_CODE_OAUTH_TOKEN). */
  anthropic: {
    title: 'Anthropic (Claude Code)',
    cli: 'claude',
    credentialKinds: ['api-key', 'oauth-token'],
    apiHosts: ['api.anthropic.com'],
    tokenShapes: [{ name: 'AnthropicApiKey', regex: 'sk-ant-[A-Za-z0-9_-]{20,}' }],
  },
  /** Codex CLI: `api-key` (→ CODEX_API_KEY) or `access-token` (ChatGPT plan → CODEX_ACCESS_TOKEN); the ChatGPT backend and its token refresh. */
  openai: {
    title: 'OpenAI (Codex CLI)',
    cli: 'codex',
    credentialKinds: ['api-key', 'access-token'],
    apiHosts: ['api.openai.com', 'chatgpt.com', 'auth.openai.com'],
    // Also covers sk-proj-, sk-svcacct- and sk-admin- keys ('-' is in the class): CloudWatch's regex subset has no groups.
    tokenShapes: [{ name: 'OpenAiApiKey', regex: 'sk-[A-Za-z0-9_-]{20,}' }],
  },
  /** Gemini CLI: `api-key` (→ GEMINI_API_KEY) or `oauth-creds` ("Login with Google" oauth_creds.json, written to the CLI's ephemeral home). */
  google: {
    title: 'Google (Gemini CLI)',
    cli: 'gemini',
    credentialKinds: ['api-key', 'oauth-creds'],
    apiHosts: ['generativelanguage.googleapis.com', 'cloudcode-pa.googleapis.com', 'oauth2.googleapis.com'],
    tokenShapes: [
      { name: 'GoogleApiKey', regex: 'AIza[0-9A-Za-z_-]{35}' },
      { name: 'GoogleOAuthAccessToken', regex: 'ya29\\.[0-9A-Za-z_.-]{20,}' },
      { name: 'GoogleOAuthRefreshToken', regex: '1//0[0-9A-Za-z_-]{20,}' },
    ],
  },
  /** Claude Code on Amazon Bedrock: nothing stored; the task role invokes the configured models from the home region's runtime endpoint. */
  bedrock: {
    title: 'Amazon Bedrock (Claude Code)',
    cli: 'claude',
    credentialKinds: [],
    apiHosts: ['bedrock-runtime.{region}.amazonaws.com'],
    tokenShapes: [],
  },
  /** xAI's API (Grok) through Codex CLI as a custom model provider (xAI serves the Responses API); `api-key` → XAI_API_KEY. */
  xai: {
    title: 'xAI (Grok, through Codex CLI)',
    cli: 'codex',
    credentialKinds: ['api-key'],
    apiHosts: ['api.x.ai'],
    tokenShapes: [{ name: 'XaiApiKey', regex: 'xai-[A-Za-z0-9]{20,}' }],
    codex: { id: 'xai', name: 'xAI', baseUrl: 'https://api.x.ai/v1', envKey: 'XAI_API_KEY', model: 'grok-4' },
  },
  /** OpenRouter's API through Codex CLI as a custom model provider (its Responses API); `api-key` → OPENROUTER_API_KEY. */
  openrouter: {
    title: 'OpenRouter (through Codex CLI)',
    cli: 'codex',
    credentialKinds: ['api-key'],
    apiHosts: ['openrouter.ai'],
    tokenShapes: [{ name: 'OpenRouterApiKey', regex: 'sk-or-v1-[0-9a-f]{64}' }],
    codex: {
      id: 'openrouter',
      name: 'OpenRouter',
      baseUrl: 'https://openrouter.ai/api/v1',
      envKey: 'OPENROUTER_API_KEY',
      model: 'openrouter/auto',
    },
  },
} as const satisfies Record<string, ProviderSpec>;

export type Provider = keyof typeof PROVIDER_REGISTRY;

/** Every provider id, in the registry's order. */
export const PROVIDERS = Object.keys(PROVIDER_REGISTRY) as [Provider, ...Provider[]];

export function providerSpec(provider: Provider): ProviderSpec {
  return PROVIDER_REGISTRY[provider];
}

/** Providers whose agents need a stored credential (the others use the task role). */
export const PROVIDERS_WITH_SECRET: readonly Provider[] = PROVIDERS.filter(
  (p) => providerSpec(p).credentialKinds.length > 0,
);

/** Which CLI runs a provider's agents. */
export function cliOf(provider: Provider): AgentCli {
  return providerSpec(provider).cli;
}

/** Every provider's token shapes, in registry order (the redactor and the data-protection policy). */
export const PROVIDER_TOKEN_SHAPES: readonly TokenShape[] = PROVIDERS.flatMap((p) => providerSpec(p).tokenShapes);
