import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../lib/config/load';
import { parseDuration } from '../../lib/config/duration';
import { exampleConfig, minimalConfigText } from '../support/example-config';

/** The problem lines of a config that must fail. */
function problems(text: string): string[] {
  try {
    parseConfigText(text, 'test.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
  }
  throw new Error('expected the config to be rejected');
}

describe('the bundled example', () => {
  const config = exampleConfig();

  it('has 3 users with 2-3 agents each and uses every provider, outbound policy and connection', () => {
    expect(config.users.map((u) => u.agents.length)).toEqual([2, 2, 3]);
    const agents = config.users.flatMap((u) => u.agents);
    expect(new Set(agents.map((a) => a.provider))).toEqual(new Set(['anthropic', 'openai', 'google', 'bedrock']));
    expect(new Set(agents.map((a) => a.outbound))).toEqual(new Set(['allow', 'confirm', 'deny']));
    expect(new Set(agents.flatMap((a) => a.connections))).toEqual(new Set(Object.keys(config.connections)));
    expect(agents.some((a) => a.skills.length > 0)).toBe(true);
    expect(config.network.interfaceEndpoints).toBe(true);
  });

  it('parses durations to seconds', () => {
    expect(config.runtime.maxTaskDuration).toBe(7200);
    expect(config.runtime.idleTimeout).toBe(900);
  });
});

describe('defaults', () => {
  const config = parseConfigText(minimalConfigText());

  it('fills every optional section', () => {
    expect(config.network).toEqual({ natGateways: 1, interfaceEndpoints: false });
    expect(config.runtime).toEqual({
      cpu: 1024,
      memoryMiB: 2048,
      architecture: 'x86_64',
      maxTaskDuration: 7200,
      idleTimeout: 900,
    });
    expect(config.logs).toEqual({ retentionDays: 365 });
    expect(config.identity).toEqual({ mfa: 'required' });
    expect(config.github.environments).toEqual(['production']);
    expect(config.iamRoleBudget).toBe(1000);
    expect(config.bootstrapQualifier).toBe('hnb659fds');
    expect(config.connections).toEqual({});
    expect(config.users[0].agents[0]).toEqual({
      id: 'sales',
      provider: 'anthropic',
      skills: [],
      connections: [],
      outbound: 'confirm',
      schedules: [],
    });
  });
});

describe('durations', () => {
  it.each([
    ['90s', 90],
    ['15m', 900],
    ['2h', 7200],
  ])('%s is %i seconds', (text, seconds) => expect(parseDuration(text)).toBe(seconds));

  it.each(['', '2', 'h', '1.5h', '2d', '-5m', '05m', ' 2h', '2H'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('rejected configs name the path and the rule', () => {
  it('reports an unknown connection at its exact position', () => {
    const text = minimalConfigText({
      connections: '{ crm: { hosts: [crm.example.com] } }',
      users:
        '[{ id: alice, email: a@acme.example, agents: [{ id: sales, provider: anthropic, connections: [crm, bank] }] }]',
    });
    expect(problems(text)).toEqual([
      'users[0] (alice).agents[0] (sales).connections[1]: unknown connection "bank" (defined: crm)',
    ]);
  });

  it('reports every problem of the file at once', () => {
    const text = minimalConfigText({
      name: 'Acme',
      account: '1111',
      foo: '1',
      network: '{ natGateways: 3 }',
      runtime: '{ cpu: 1000, maxTaskDuration: 2x }',
      logs: '{ retentionDays: 13 }',
      providers: '[anthropic, anthropic]',
      users: `
  - id: Alice
    email: nope
    agents:
      - { id: sales, provider: openai, skills: [notes] }
      - { id: sales, provider: anthropic, outbound: maybe }
  - id: bob
    email: bob@acme.example
    agents: []`,
    });
    expect(problems(text)).toEqual([
      'name: name must be a lowercase letter, then lowercase letters, digits or "-", at most 16 characters, got "Acme"',
      'account: must be a string, got 1111 (put it in quotes)',
      'network.natGateways: natGateways must be 1 or 2',
      'runtime.cpu: cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384 (Fargate CPU units)',
      'runtime.maxTaskDuration: maxTaskDuration must be a whole number followed by s, m or h (e.g. 90s, 15m, 2h), got "2x"',
      'logs.retentionDays: retentionDays must be a CloudWatch Logs retention value: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653',
      'users[0] (Alice).id: user id must be a lowercase letter, then lowercase letters, digits or "-", at most 24 characters, got "Alice"',
      'users[0] (Alice).email: email must be an email address, got "nope"',
      'users[0] (Alice).agents[0] (sales).skills[0]: skills are written name@version, e.g. crm-notes@1.2.0 or crm-notes@2.0.0-beta.1: a lowercase name (letters, digits, "-", at most 64 characters) and a semantic version, got "notes"',
      'users[0] (Alice).agents[1] (sales).outbound: outbound must be one of allow, confirm, deny, got "maybe"',
      'users[1] (bob).agents: a user needs at least one agent',
      'unknown key "foo": remove it (allowed here: name, account, region, availabilityZones, bootstrapQualifier, iamRoleBudget, network, fleet, runtime, logs, audit, identity, edge, github, providers, bedrock, connections, notifications, budgets, users)',
      'providers[1]: provider "anthropic" is listed twice (also [0]): remove one',
      'users[0] (Alice).agents[0] (sales).provider: provider "openai" is not listed in providers (anthropic): add it there or pick one of those',
      'users[0] (Alice).agents[1] (sales).id: duplicate agent id "sales" for this user (also agents[0]): rename one',
    ]);
  });

  it('rejects duplicate users and emails (case-insensitive)', () => {
    const text = minimalConfigText({
      users: `
  - { id: alice, email: alice@acme.example, agents: [{ id: a, provider: anthropic }] }
  - { id: alice, email: Alice@Acme.example, agents: [{ id: a, provider: anthropic }] }`,
    });
    expect(problems(text)).toEqual([
      'users[1] (alice).id: duplicate user id "alice" (also users[0]): give each user their own id',
      'users[1] (alice).email: duplicate email "alice@acme.example" (also users[0]): one employee, one roster entry',
    ]);
  });

  it('rejects ids that are too long, and names longer than 16', () => {
    const text = minimalConfigText({
      name: 'a-deployment-name-x',
      users: `[{ id: ${'u'.repeat(25)}, email: a@acme.example, agents: [{ id: ${'a'.repeat(24)}, provider: anthropic }] }]`,
    });
    expect(problems(text)).toEqual([
      'name: name must be a lowercase letter, then lowercase letters, digits or "-", at most 16 characters, got "a-deployment-name-x"',
      `users[0] (${'u'.repeat(25)}).id: user id must be a lowercase letter, then lowercase letters, digits or "-", at most 24 characters, got "${'u'.repeat(25)}"`,
    ]);
  });

  it('requires bedrock models when bedrock is a provider', () => {
    expect(problems(minimalConfigText({ providers: '[anthropic, bedrock]' }))).toEqual([
      'bedrock: bedrock is listed in providers, so bedrock.models must list the model ids its agents may invoke',
    ]);
  });

  it('checks Fargate sizes and that idle is shorter than the cap', () => {
    expect(
      problems(minimalConfigText({ runtime: '{ cpu: 256, memoryMiB: 4096, maxTaskDuration: 30m, idleTimeout: 1h }' })),
    ).toEqual([
      'runtime.memoryMiB: 4096 MiB is not a Fargate size for cpu 256; allowed: 512–2048 in steps of 512',
      'runtime.idleTimeout: idleTimeout (3600s) must be shorter than maxTaskDuration (1800s)',
    ]);
  });

  it('bounds durations', () => {
    expect(problems(minimalConfigText({ runtime: '{ maxTaskDuration: 25h, idleTimeout: 30s }' }))).toEqual([
      'runtime.maxTaskDuration: maxTaskDuration must be between 300s and 24h, got "25h"',
      'runtime.idleTimeout: idleTimeout must be between 60s and 24h, got "30s"',
    ]);
  });

  it('keeps (user, agent) pairs within the IAM role budget, which cannot exceed 5,000', () => {
    const users = `[{ id: alice, email: a@acme.example, agents: [{ id: a, provider: anthropic }, { id: b, provider: anthropic }, { id: c, provider: anthropic }] }]`;
    expect(problems(minimalConfigText({ iamRoleBudget: '2', users }))).toEqual([
      "users: 3 (user, agent) pairs exceed iamRoleBudget 2: each pair has its own IAM role; raise iamRoleBudget (after raising the account's IAM roles quota, at most 5000) or remove agents",
    ]);
    expect(problems(minimalConfigText({ iamRoleBudget: '5001' }))).toEqual([
      'iamRoleBudget: iamRoleBudget cannot exceed 5000 (the IAM roles-per-account hard limit)',
    ]);
  });

  it('checks availability zones against the region', () => {
    expect(problems(minimalConfigText({ availabilityZones: '[eu-west-1a, us-east-1b]' }))).toEqual([
      'availabilityZones[1]: "us-east-1b" is not a zone of region eu-west-1 (expected e.g. eu-west-1a)',
    ]);
    expect(problems(minimalConfigText({ availabilityZones: '[eu-west-1a, eu-west-1a]' }))).toEqual([
      'availabilityZones[1]: the two availability zones must differ',
    ]);
  });

  it('rejects hosts with a scheme and unknown keys inside sections', () => {
    expect(
      problems(minimalConfigText({ connections: '{ crm: { hosts: ["https://crm.example.com"], secrets: true } }' })),
    ).toEqual([
      'connections.crm.hosts[0]: must be a lowercase DNS host name such as api.example.com (no scheme, port, path or wildcard), got "https://crm.example.com"',
      'connections.crm: unknown key "secrets" — did you mean "secret"?',
    ]);
  });

  it('names missing required fields', () => {
    expect(problems(minimalConfigText({ github: '', region: '' }))).toEqual([
      'region: is required',
      'github: is required',
    ]);
  });

  it('reports YAML syntax errors with line and column', () => {
    expect(problems('name: [acme\nregion: eu-west-1\n')).toEqual([
      'line 2, column 1: YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    expect(problems('name: a\nname: b\n')).toEqual(['line 2, column 1: YAML syntax: Map keys must be unique']);
  });

  it('rejects an empty file', () => {
    expect(problems('')).toEqual(['the file is empty: start from a copy of config/example.yaml']);
  });
});
