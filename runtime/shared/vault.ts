/**
 * The value every vault secret holds from creation until the employee stores a credential
 * (PUT /v1/credentials/... or /v1/connections/.../credential). Not a credential: the fleet writes it
 * (lib/constructs/user-vault.ts) and the runtime recognises it, so an agent never presents it as a token.
 */
export const VAULT_PLACEHOLDER = '{"cubicle":"no credential stored yet"}';

export function isVaultPlaceholder(secretString: string): boolean {
  return secretString.trim() === VAULT_PLACEHOLDER;
}
