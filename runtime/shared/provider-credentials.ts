/**
 * What a provider secret holds. The control plane validates what an employee stores with the same
 * schema the runtime parses at task start, so a stored credential is always one the CLI can use.
 *
 * Secret string: JSON `{ "kind": "...", "value": "..." }`. A bare string (no JSON) is an API key.
 */
// zod/mini: the employee console bundles this module too (full zod would add ~440 KB to the page).
import * as z from 'zod/mini';
import { PROVIDER_REGISTRY, PROVIDERS, type Provider } from './providers';

export { PROVIDERS, type Provider } from './providers';

/** Credential kinds each provider's CLI accepts (runtime/shared/providers.ts says what each one is). */
export const CREDENTIAL_KINDS = Object.fromEntries(PROVIDERS.map((p) => [p, PROVIDER_REGISTRY[p].credentialKinds])) as {
  readonly [P in Provider]: (typeof PROVIDER_REGISTRY)[P]['credentialKinds'];
};

export type CredentialKind = (typeof PROVIDER_REGISTRY)[Provider]['credentialKinds'][number];

export interface ProviderCredential {
  readonly kind: CredentialKind;
  readonly value: string;
}

const STORED = z.strictObject({ kind: z.string(), value: z.string().check(z.minLength(1)) });

/**
 * Parses a stored secret for a provider. Errors never include the secret's content.
 */
export function parseProviderCredential(provider: Provider, secretString: string): ProviderCredential {
  const allowed: readonly string[] = CREDENTIAL_KINDS[provider];
  if (allowed.length === 0) throw new Error(`provider ${provider} takes no stored credential`);
  const trimmed = secretString.trim();
  if (trimmed.length === 0) throw new Error(`the ${provider} credential is empty`);
  let stored: { kind: string; value: string };
  if (trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      throw new Error(`the ${provider} credential starts with "{" but is not valid JSON`);
    }
    const parsed = STORED.safeParse(json);
    if (!parsed.success)
      throw new Error(`the ${provider} credential must be { "kind", "value" } with a non-empty value`);
    stored = parsed.data;
  } else {
    stored = { kind: 'api-key', value: trimmed };
  }
  if (!allowed.includes(stored.kind)) {
    throw new Error(
      `credential kind "${stored.kind}" is not accepted for ${provider} (accepted: ${allowed.join(', ')})`,
    );
  }
  if (stored.kind === 'oauth-creds') {
    try {
      JSON.parse(stored.value);
    } catch {
      throw new Error(`the ${provider} oauth-creds value must be the JSON text of oauth_creds.json`);
    }
  }
  return { kind: stored.kind as CredentialKind, value: stored.value };
}
