/**
 * The provider registry (runtime/shared/providers.ts) is the one list: every provider has every part,
 * and each place that needs providers gets them from it (config, stored credentials, CLI adapters,
 * egress hosts, the redactor and the CloudWatch data-protection policy).
 */
import { describe, expect, it } from 'vitest';
import {
  CUSTOM_CREDENTIAL_PATTERNS,
  customIdentifierProblems,
  MAX_CUSTOM_IDENTIFIERS,
} from '../../../lib/constructs/credential-masking';
import { egressAllowList } from '../../../lib/constructs/egress-firewall';
import { parseConfigText } from '../../../lib/config/load';
import { vaultSecrets } from '../../../lib/fleet/vault-secrets';
import { credentialTargets } from '../../../console/src/core/credentials';
import { adapterFor } from '../../../runtime/agent/src/providers';
import { parseProviderCredential } from '../../../runtime/shared/provider-credentials';
import {
  PROVIDER_REGISTRY,
  PROVIDER_TOKEN_SHAPES,
  PROVIDERS,
  PROVIDERS_WITH_SECRET,
  providerSpec,
  type Provider,
} from '../../../runtime/shared/providers';
import { MASK, Redactor } from '../../../runtime/shared/redact';
import { minimalConfigText } from '../../support/example-config';
import { tokenSample } from '../../support/token-samples';

/** A key or token of each shape, as the provider issues them (random-looking, not real). */
/** A config whose only agent uses `provider`. */
function configFor(provider: Provider) {
  return parseConfigText(
    minimalConfigText({
      providers: `[${provider}]`,
      users: `[{ id: alice, email: alice@acme.example, agents: [{ id: one, provider: ${provider} }] }]`,
      ...(provider === 'bedrock' ? { bedrock: '{ models: [us.anthropic.claude-sonnet-4-5-20250929-v1:0] }' } : {}),
    }),
    'providers test',
  );
}

describe('the provider registry', () => {
  // At least these: a provider added to the registry needs no change here.
  it('lists the five providers of the seeds, plus Bedrock', () => {
    expect(PROVIDERS).toEqual(
      expect.arrayContaining(['anthropic', 'openai', 'google', 'bedrock', 'xai', 'openrouter']),
    );
    expect(PROVIDERS_WITH_SECRET).toEqual(
      expect.arrayContaining(['anthropic', 'openai', 'google', 'xai', 'openrouter']),
    );
    expect(PROVIDERS_WITH_SECRET).not.toContain('bedrock');
  });

  for (const provider of PROVIDERS) {
    it(`${provider}: has every part, and every consumer picks it up`, () => {
      const spec = providerSpec(provider);
      expect(spec.title.length).toBeGreaterThan(3);
      expect(spec.apiHosts.length).toBeGreaterThan(0);

      // Its CLI's adapter runs it, with the command the image ships.
      const adapter = adapterFor(provider);
      expect(adapter.provider).toBe(provider);
      expect(adapter.command).toBe(spec.cli);

      // The config accepts it; the vault holds a secret for it exactly when it takes a credential.
      const config = configFor(provider);
      const secrets = vaultSecrets(config, config.users[0]).filter((s) => s.name.includes('/provider/'));
      expect(secrets.map((s) => s.name)).toEqual(
        spec.credentialKinds.length > 0 ? [`cubicle/acme/alice/provider/${provider}`] : [],
      );

      // The egress firewall lets its CLI reach its hosts.
      const allowed = egressAllowList(config);
      for (const host of spec.apiHosts) expect(allowed).toContain(host.replace('{region}', config.region));

      if (spec.credentialKinds.length === 0) return;
      // What an employee stores is checked against its kinds, in the console and at task start alike.
      expect(
        parseProviderCredential(
          provider,
          JSON.stringify({
            kind: spec.credentialKinds[0],
            value: spec.credentialKinds[0] === 'oauth-creds' ? '{}' : 'v',
          }),
        ).kind,
      ).toBe(spec.credentialKinds[0]);
      expect(() => parseProviderCredential(provider, JSON.stringify({ kind: 'password', value: 'v' }))).toThrow(
        `credential kind "password" is not accepted for ${provider}`,
      );
      const [target] = credentialTargets([
        { agentId: 'one', provider, providerCredential: true, connections: [] } as never,
      ]);
      expect(target).toMatchObject({ kind: 'provider', name: provider, kinds: spec.credentialKinds });

      // Its keys have a shape, masked in logs and events by the redactor and by CloudWatch.
      expect(spec.tokenShapes.length).toBeGreaterThan(0);
      for (const shape of spec.tokenShapes) {
        const sample = tokenSample(shape.name);
        expect(new RegExp(`^${shape.regex}$`).test(sample)).toBe(true);
        expect(new Redactor().redact(`key=${sample} ok`)).toBe(`key=${MASK} ok`);
        expect(CUSTOM_CREDENTIAL_PATTERNS).toContainEqual([shape.name, shape.regex]);
      }
    });
  }

  it("keeps the data-protection policy within CloudWatch's documented limits: count, names, regex characters", () => {
    expect(CUSTOM_CREDENTIAL_PATTERNS.length).toBeLessThanOrEqual(MAX_CUSTOM_IDENTIFIERS);
    expect(customIdentifierProblems(CUSTOM_CREDENTIAL_PATTERNS)).toEqual([]);
    // The shapes CloudWatch would have refused at deploy (groups, '~'), and too many identifiers, are named.
    expect(
      customIdentifierProblems([
        ['OpenAiApiKey', 'sk-(proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}'],
        ['BearerToken', '[Bb]earer [A-Za-z0-9._~+/-]{20,}=*'],
        ['Long', 'a'.repeat(201)],
        ['bad name', 'x'],
      ]),
    ).toEqual([
      expect.stringMatching(/^OpenAiApiKey: the regex "sk-\(proj-.*holds a character CloudWatch refuses/),
      expect.stringMatching(/^BearerToken: the regex .*holds a character CloudWatch refuses/),
      expect.stringMatching(/^Long: the regex "a+" is longer than 200 characters/),
      'bad name: the name may hold only A-Z, a-z, 0-9, _ and -',
    ]);
    const eleven = Array.from({ length: 11 }, (_, i) => [`Shape${i}`, 'x'] as const);
    expect(customIdentifierProblems(eleven)).toEqual(['11 custom data identifiers, CloudWatch takes at most 10']);
    expect(new Set(PROVIDER_TOKEN_SHAPES.map((s) => s.name)).size).toBe(PROVIDER_TOKEN_SHAPES.length);
  });

  it('masks no ordinary words or ids', () => {
    const text = 'task-0123456789abcdefghijklmnop desk-abcdefghijklmnopqrstuvwxyz sk-ant-short xai-team ok';
    expect(new Redactor().redact(text)).toBe(text);
  });

  it('runs xAI and OpenRouter through Codex as custom model providers, with their own key variable', () => {
    const context = {
      home: '/tmp/home',
      workspace: '/w',
      credential: { kind: 'api-key' as const, value: 'xai-key' },
      bedrockModels: [],
      inherited: {},
    };
    for (const provider of ['xai', 'openrouter'] as const) {
      const custom = PROVIDER_REGISTRY[provider].codex;
      const adapter = adapterFor(provider);
      const args = adapter.args(context);
      expect(args).toEqual(
        expect.arrayContaining([
          `model_providers.${custom.id}={ name = "${custom.name}", base_url = "${custom.baseUrl}", env_key = "${custom.envKey}", wire_api = "responses" }`,
          `model_provider="${custom.id}"`,
          custom.model,
        ]),
      );
      expect(args.at(-1)).toBe('-'); // the prompt still comes on stdin
      expect(adapter.env(context)).toEqual({ CODEX_HOME: '/tmp/home/.codex', [custom.envKey]: 'xai-key' });
    }
    // OpenAI itself keeps Codex's built-in provider.
    expect(adapterFor('openai').args(context).join(' ')).not.toContain('model_provider');
  });
});
