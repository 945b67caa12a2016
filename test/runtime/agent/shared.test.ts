import { describe, expect, it } from 'vitest';
import { AGENT_ENV_SCHEMA, agentEnvProblems } from '../../../runtime/shared/agent-env';
import { parseProviderCredential } from '../../../runtime/shared/provider-credentials';
import { MASK, Redactor } from '../../../runtime/shared/redact';
import { approvalStatus, idFloor, newSortableId, sortableIdTime } from '../../../runtime/shared/rows';

describe('redactor', () => {
  it('masks loaded secrets, their common encodings and known token shapes', () => {
    const r = new Redactor();
    const secret = 'pa"ss/word+with=odd&chars';
    r.add(secret);
    for (const form of [
      secret,
      JSON.stringify(secret),
      encodeURIComponent(secret),
      Buffer.from(secret).toString('base64'),
    ]) {
      expect(r.redact(`x ${form} y`)).not.toContain(form);
    }
    expect(r.redact(JSON.stringify({ msg: `token=${secret}` }))).toBe(JSON.stringify({ msg: `token=${MASK}` }));
    const shapes = [
      'sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
      'sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
      'AIzaSyA1234567890abcdefghijklmnopqrstuv',
      'AKIAIOSFODNN7EXAMPLE',
      'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
    ];
    for (const shape of shapes) expect(new Redactor().redact(`value: ${shape}.`)).toBe(`value: ${MASK}.`);
    expect(new Redactor().redact('Authorization: Bearer abcdefghijklmnop1234')).toBe(`Authorization: Bearer ${MASK}`);
    expect(new Redactor().redact('an ordinary sentence with skills and ids like alice#sales')).toBe(
      'an ordinary sentence with skills and ids like alice#sales',
    );
  });

  it('registers every long string inside a JSON secret, and redacts nested values', () => {
    const r = new Redactor();
    r.addJson(
      JSON.stringify({ kind: 'oauth-creds', value: JSON.stringify({ refresh_token: 'refresh-0123456789abcdef' }) }),
    );
    expect(r.redact('leaked refresh-0123456789abcdef')).toBe(`leaked ${MASK}`);
    expect(r.redactValue({ a: ['refresh-0123456789abcdef', 3], b: { c: 'fine' } })).toEqual({
      a: [MASK, 3],
      b: { c: 'fine' },
    });
  });
});

describe('provider credentials', () => {
  it('accepts each CLI’s credential kinds and rejects others without echoing the value', () => {
    expect(parseProviderCredential('anthropic', 'sk-ant-api03-xyz')).toEqual({
      kind: 'api-key',
      value: 'sk-ant-api03-xyz',
    });
    expect(
      parseProviderCredential('anthropic', JSON.stringify({ kind: 'oauth-token', value: 'sk-ant-oat01-xyz' })),
    ).toEqual({ kind: 'oauth-token', value: 'sk-ant-oat01-xyz' });
    expect(parseProviderCredential('openai', JSON.stringify({ kind: 'access-token', value: 't' })).kind).toBe(
      'access-token',
    );
    expect(
      parseProviderCredential('google', JSON.stringify({ kind: 'oauth-creds', value: '{"refresh_token":"r"}' })).kind,
    ).toBe('oauth-creds');
    expect(() =>
      parseProviderCredential('openai', JSON.stringify({ kind: 'oauth-token', value: 'hunter2-secret' })),
    ).toThrow('credential kind "oauth-token" is not accepted for openai (accepted: api-key, access-token)');
    expect(() =>
      parseProviderCredential('google', JSON.stringify({ kind: 'oauth-creds', value: 'not json hunter2' })),
    ).toThrow(/must be the JSON text/);
    expect(() => parseProviderCredential('anthropic', '{"kind": hunter2')).toThrow(/not valid JSON/);
    expect(() => parseProviderCredential('bedrock', 'x')).toThrow(/takes no stored credential/);
    try {
      parseProviderCredential('google', JSON.stringify({ kind: 'oauth-creds', value: 'not json hunter2' }));
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});

describe('ids and rows', () => {
  it('sortable ids order by time and expose it', () => {
    const a = newSortableId(1_700_000_000_000);
    const b = newSortableId(1_700_000_000_001);
    expect(a < b).toBe(true);
    expect(sortableIdTime(a)).toBe(1_700_000_000_000);
    expect(idFloor(1_700_000_000_001) > a).toBe(true);
    expect(idFloor(1_700_000_000_001) < b).toBe(true);
    expect(() => sortableIdTime('nope')).toThrow();
  });

  it('derives approval status from decision and expiry', () => {
    expect(approvalStatus({})).toBe('pending');
    expect(approvalStatus({ expiredAt: 1 })).toBe('expired');
    expect(approvalStatus({ decision: 'denied' })).toBe('denied');
  });
});

describe('agent environment rules', () => {
  const base = {
    CUBICLE_USER_KEY_ARN: 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    CUBICLE_DEPLOYMENT: 'acme',
    CUBICLE_USER_ID: 'alice',
    CUBICLE_AGENT_ID: 'sales',
    CUBICLE_PROVIDER: 'bedrock',
    CUBICLE_OUTBOUND_POLICY: 'confirm',
    CUBICLE_SKILLS: 'crm-notes@1.2.0,bad',
    CUBICLE_CONNECTIONS: '[]',
    CUBICLE_MAX_TASK_DURATION_MS: '7200000',
    CUBICLE_IDLE_TIMEOUT_MS: '900000',
    CUBICLE_RELAY_URL: 'wss://abc123.execute-api.eu-west-1.amazonaws.com/runtime',
  };
  it('takes the relay over wss only (ws on loopback for local mode), never a URL with a query string', () => {
    for (const url of ['wss://abc.execute-api.eu-west-1.amazonaws.com/runtime', 'ws://127.0.0.1:4321/runtime']) {
      expect(AGENT_ENV_SCHEMA.safeParse({ ...base, CUBICLE_RELAY_URL: url }).success, url).toBe(true);
    }
    for (const url of [
      'ws://abc.execute-api.eu-west-1.amazonaws.com/runtime',
      'https://x/runtime',
      'wss://x/runtime?token=abc',
      '',
    ]) {
      expect(AGENT_ENV_SCHEMA.safeParse({ ...base, CUBICLE_RELAY_URL: url }).success, url).toBe(false);
    }
  });

  it('requires a secret for every provider but bedrock, models and the invoker role for bedrock, and name@version skills', () => {
    expect(agentEnvProblems(AGENT_ENV_SCHEMA.parse(base))).toEqual([
      'CUBICLE_BEDROCK_MODELS: required for bedrock (comma-separated model or inference-profile ids)',
      'CUBICLE_BEDROCK_ROLE_ARN: required for bedrock (the role whose sessions invoke the models)',
      'CUBICLE_SKILLS: "bad" is not written name@version, e.g. crm-notes@1.2.0 or crm-notes@2.0.0-beta.1: a lowercase name (letters, digits, "-", at most 64 characters) and a semantic version',
    ]);
    expect(
      agentEnvProblems(AGENT_ENV_SCHEMA.parse({ ...base, CUBICLE_PROVIDER: 'openai', CUBICLE_SKILLS: '' })),
    ).toEqual(['CUBICLE_PROVIDER_SECRET_ARN: required for openai']);
    // Only bedrock agents get the model invoker role.
    const role = 'arn:aws:iam::111111111111:role/cubicle/acme/acme-bedrock-invoker';
    expect(
      agentEnvProblems(
        AGENT_ENV_SCHEMA.parse({
          ...base,
          CUBICLE_PROVIDER: 'openai',
          CUBICLE_SKILLS: '',
          CUBICLE_PROVIDER_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:x',
          CUBICLE_BEDROCK_ROLE_ARN: role,
        }),
      ),
    ).toEqual(['CUBICLE_BEDROCK_ROLE_ARN: only bedrock agents get the model invoker role, not openai']);
    expect(
      AGENT_ENV_SCHEMA.safeParse({ ...base, CUBICLE_BEDROCK_ROLE_ARN: 'arn:aws:iam::111111111111:user/admin' }).success,
    ).toBe(false);
  });
});
