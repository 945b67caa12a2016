import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseConfigText } from '../../lib/config/load';
import { CubicleConfig } from '../../lib/config/schema';
import { ACCOUNT } from './account';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const EXAMPLE_CONFIG_PATH = path.join(REPO_ROOT, 'config', 'example.yaml');

export function exampleConfigText(): string {
  return readFileSync(EXAMPLE_CONFIG_PATH, 'utf8');
}

/** The bundled example, validated, as tests see it (no source file: nothing is written beside it). */
export function exampleConfig(): CubicleConfig {
  return parseConfigText(exampleConfigText(), 'config/example.yaml');
}

/**
 * A minimal valid config for tests; `overrides` replaces top-level keys (YAML text of the value).
 * Keeps each test's file short and its intent visible.
 */
export function minimalConfigText(overrides: Record<string, string> = {}): string {
  const base: Record<string, string> = {
    name: 'acme',
    account: `"${ACCOUNT}"`,
    region: 'eu-west-1',
    github: '{ owner: acme, repo: cubicle-deploy }',
    providers: '[anthropic]',
    users: '[{ id: alice, email: alice@acme.example, agents: [{ id: sales, provider: anthropic }] }]',
  };
  return Object.entries({ ...base, ...overrides })
    .filter(([, value]) => value !== '')
    .map(([key, value]) => `${key}: ${value}`)
    .join('\n');
}
