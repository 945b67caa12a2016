/**
 * What an employee can store, and the check before sending it: the targets come from their agents (the
 * providers that keep a stored credential, the connections that take the user's own credential), and a
 * provider credential is validated with the schema the runtime parses at task start
 * (runtime/shared/provider-credentials.ts), so nothing is sent that an agent could not use. Messages never
 * contain the value.
 */
import {
  CREDENTIAL_KINDS,
  parseProviderCredential,
  PROVIDERS,
  type Provider,
} from '../../../runtime/shared/provider-credentials';
import type { AgentView } from './api';

export interface CredentialTarget {
  readonly kind: 'provider' | 'connection';
  readonly name: string;
  /** Accepted kinds for a provider; a connection takes one token. */
  readonly kinds: readonly string[];
  /** The user's agents that use it. */
  readonly agents: readonly string[];
}

export const KIND_LABELS: Record<string, string> = {
  'api-key': 'API key',
  'oauth-token': 'Subscription token (claude setup-token)',
  'access-token': 'ChatGPT plan access token',
  'oauth-creds': 'oauth_creds.json (Login with Google)',
};

export function isProvider(name: string): name is Provider {
  return (PROVIDERS as readonly string[]).includes(name);
}

export function credentialTargets(agents: readonly AgentView[]): CredentialTarget[] {
  const providers = new Map<string, string[]>();
  const connections = new Map<string, string[]>();
  for (const agent of agents) {
    if (agent.providerCredential)
      providers.set(agent.provider, [...(providers.get(agent.provider) ?? []), agent.agentId]);
    for (const c of agent.connections) connections.set(c, [...(connections.get(c) ?? []), agent.agentId]);
  }
  return [
    ...[...providers]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, users]): CredentialTarget => ({
        kind: 'provider',
        name,
        kinds: isProvider(name) ? CREDENTIAL_KINDS[name] : [],
        agents: users,
      })),
    ...[...connections]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, users]): CredentialTarget => ({ kind: 'connection', name, kinds: [], agents: users })),
  ];
}

/** Largest value the API accepts (Secrets Manager's limit). */
export const MAX_CREDENTIAL_CHARS = 65_536;

/**
 * The request body's `value` for a target, or an Error saying what to fix (never quoting the value).
 * A provider credential is sent as the JSON the runtime reads: `{"kind", "value"}`.
 */
export function credentialPayload(
  target: Pick<CredentialTarget, 'kind' | 'name'>,
  kind: string | undefined,
  value: string,
): string {
  const trimmed = value.trim();
  if (trimmed === '') throw new Error('Enter the credential: the field is empty.');
  if (target.kind === 'connection') {
    if (trimmed.length > MAX_CREDENTIAL_CHARS)
      throw new Error(`The credential is too long (at most ${MAX_CREDENTIAL_CHARS} characters).`);
    return trimmed;
  }
  if (!isProvider(target.name)) throw new Error(`Cubicle does not know the provider "${target.name}".`);
  const payload = JSON.stringify({ kind: kind ?? 'api-key', value: trimmed });
  if (payload.length > MAX_CREDENTIAL_CHARS)
    throw new Error(`The credential is too long (at most ${MAX_CREDENTIAL_CHARS} characters).`);
  try {
    parseProviderCredential(target.name, payload);
  } catch (error) {
    throw new Error(`Not a usable ${target.name} credential: ${(error as Error).message}.`, { cause: error });
  }
  return payload;
}

/** "sales uses it", "sales and finance use it", "a, b and c use it": who picks up a stored credential. */
export function whoUsesIt(agents: readonly string[]): string {
  if (agents.length <= 1) return `${agents[0] ?? 'no agent'} uses it`;
  return `${agents.slice(0, -1).join(', ')} and ${agents[agents.length - 1]} use it`;
}
