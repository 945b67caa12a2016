import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../lib/config/load';
import { checkImageSkillsLink, readSkillCatalog, SKILLS_DIRECTORY } from '../../lib/config/skills-catalog';
import { AGENT_IMAGE_DIRECTORY } from '../../lib/stacks/platform-stack';
import { AGENT_ENV_SCHEMA, agentEnvProblems } from '../../runtime/shared/agent-env';
import { parseSkillRef } from '../../runtime/shared/skills';
import { minimalConfigText } from '../support/example-config';
import { problemLines } from '../support/config-problems';

const user = (id: string, extra = '') =>
  `  - { id: ${id}, email: ${id}@acme.example, agents: [{ id: main, provider: anthropic${extra} }] }`;

describe('problems name the thing, not only its position', () => {
  it("puts each list item's id beside its index: users[5] (dana).email", () => {
    const users = ['alice', 'bruno', 'chen', 'dora', 'emil'].map((id) => user(id)).join('\n');
    const text = minimalConfigText({
      users: `\n${users}\n  - { id: dana, agents: [{ id: sales, provider: anthropic, outbound: confrim }] }`,
    });
    expect(problemLines(text)).toEqual([
      'users[5] (dana).email: is required',
      'users[5] (dana).agents[0] (sales).outbound: outbound must be one of allow, confirm, deny, got "confrim" — did you mean "confirm"?',
    ]);
  });

  it('suggests the key meant for a misspelled one, and lists the allowed keys otherwise', () => {
    const text = minimalConfigText({
      users: '\n  - { id: alice, emial: alice@acme.example, agents: [{ id: sales, provider: anthropic, skils: [] }] }',
      runtime: '{ cpus: 1024, zzz: 1 }',
    });
    expect(problemLines(text)).toEqual([
      'runtime: unknown key "cpus" — did you mean "cpu"?',
      'runtime: unknown key "zzz": remove it (allowed here: cpu, memoryMiB, architecture, maxTaskDuration, idleTimeout)',
      'users[0] (alice).email: is required',
      'users[0] (alice).agents[0] (sales): unknown key "skils" — did you mean "skills"?',
      'users[0] (alice): unknown key "emial" — did you mean "email"?',
    ]);
  });

  it('says a user needs an agent when `agents:` is left empty, and what an empty section needs', () => {
    const text = minimalConfigText({
      users: '\n  - id: alice\n    email: alice@acme.example\n    agents:',
      network: '',
    });
    expect(problemLines(text)).toEqual(['users[0] (alice).agents: a user needs at least one agent']);
    expect(problemLines(`${minimalConfigText()}\nnetwork:`)).toEqual([
      'network: is empty: give its settings, or remove the key to use the defaults',
    ]);
    expect(problemLines(minimalConfigText({ users: '' }) + '\nusers:')).toEqual([
      'users: the roster needs at least one user',
    ]);
  });

  it('suggests a defined connection for a misspelled one', () => {
    const text = minimalConfigText({
      connections: '{ bank-feed: { hosts: [api.bank.example] } }',
      users:
        '[{ id: alice, email: a@acme.example, agents: [{ id: sales, provider: anthropic, connections: [bankfeed] }] }]',
    });
    expect(problemLines(text)).toEqual([
      'users[0] (alice).agents[0] (sales).connections[0]: unknown connection "bankfeed" — did you mean "bank-feed"? (defined: bank-feed)',
    ]);
  });
});

describe('skills', () => {
  it('have one rule, shared by the config and the agent runtime (pre-releases included)', () => {
    const refs = [
      'crm-notes@1.2.0',
      'crm-notes@1.2.0-beta.1',
      'a@0.0.0-rc.1.x-y',
      'crm-notes@1.2',
      'crm-notes@01.2.0',
      'Crm@1.2.0',
      'crm-notes@1.2.0+build',
      'crm@1.2.0-01',
      `${'a'.repeat(65)}@1.0.0`,
    ];
    const folders: Record<string, string[]> = {};
    for (const [name, version] of refs.map((r) => r.split('@'))) (folders[name] ??= []).push(version);
    const catalog = catalogOf(folders);
    const env = {
      CUBICLE_DEPLOYMENT: 'acme',
      CUBICLE_USER_ID: 'alice',
      CUBICLE_AGENT_ID: 'sales',
      CUBICLE_PROVIDER: 'bedrock',
      CUBICLE_OUTBOUND_POLICY: 'confirm',
      CUBICLE_CONNECTIONS: '[]',
      CUBICLE_BEDROCK_MODELS: 'm',
      CUBICLE_BEDROCK_ROLE_ARN: 'arn:aws:iam::111111111111:role/cubicle/acme/acme-bedrock-invoker',
      CUBICLE_MAX_TASK_DURATION_MS: '1',
      CUBICLE_IDLE_TIMEOUT_MS: '1',
      CUBICLE_RELAY_URL: 'wss://relay.example/runtime',
      CUBICLE_USER_KEY_ARN: 'arn:aws:kms:eu-west-1:111111111111:key/k',
    };
    const verdicts = refs.map((ref) => {
      const config = parseOk(
        minimalConfigText({
          users: `[{ id: alice, email: a@acme.example, agents: [{ id: sales, provider: anthropic, skills: ["${ref}"] }] }]`,
        }),
        catalog,
      );
      const runtime = agentEnvProblems(AGENT_ENV_SCHEMA.parse({ ...env, CUBICLE_SKILLS: ref })).length === 0;
      expect(runtime, ref).toBe(config);
      return config;
    });
    expect(verdicts).toEqual([true, true, true, false, false, false, false, false, false]);
    expect(parseSkillRef('crm-notes@1.2.0-beta.1')).toEqual({ name: 'crm-notes', version: '1.2.0-beta.1' });
  });

  it("are checked against the repository's skills/ folder, naming the path and the versions there", () => {
    const agents = (skills: string) =>
      `[{ id: alice, email: a@acme.example, agents: [{ id: sales, provider: anthropic, skills: [${skills}] }] }]`;
    expect(
      parseConfigText(minimalConfigText({ users: agents('crm-notes@1.2.0, style-guide@0.3.1') })).users[0].agents[0]
        .skills,
    ).toEqual(['crm-notes@1.2.0', 'style-guide@0.3.1']);
    expect(problemLines(minimalConfigText({ users: agents('crm-notes@1.3.0, crm-note@1.2.0') }))).toEqual([
      'users[0] (alice).agents[0] (sales).skills[0]: skill "crm-notes@1.3.0": skills/crm-notes/ has version 1.2.0, not 1.3.0; add skills/crm-notes/1.3.0/SKILL.md or use crm-notes@1.2.0',
      'users[0] (alice).agents[0] (sales).skills[1]: skill "crm-note@1.2.0": skills/ has no skill "crm-note" — did you mean "crm-notes"? (available: crm-notes, style-guide); add skills/crm-note/1.2.0/SKILL.md or name an available skill',
    ]);
  });

  it('list every version a skill has, in version order, and count only folders with a SKILL.md', () => {
    const catalog = catalogOf({ notes: ['1.10.0', '1.2.0', '1.2.0-beta.1', '2.0.0-rc.1'] });
    mkdirSync(path.join(catalog.label, 'notes', '3.0.0'));
    expect(readSkillCatalog(catalog.label).versions.get('notes')).toEqual([
      '1.2.0-beta.1',
      '1.2.0',
      '1.10.0',
      '2.0.0-rc.1',
    ]);
    const text = minimalConfigText({
      users:
        '[{ id: alice, email: a@acme.example, agents: [{ id: sales, provider: anthropic, skills: [notes@3.0.0] }] }]',
    });
    expect(problemLines(text, { skills: catalog })).toEqual([
      `users[0] (alice).agents[0] (sales).skills[0]: skill "notes@3.0.0": ${catalog.label}/notes/ has versions 1.2.0-beta.1, 1.2.0, 1.10.0, 2.0.0-rc.1, not 3.0.0; add ${catalog.label}/notes/3.0.0/SKILL.md or use notes@2.0.0-rc.1`,
    ]);
  });
});

describe('the agent image', () => {
  it("reaches the repository's skills/ through runtime/agent/skills, and synth refuses a checkout without the link", () => {
    expect(realpathSync(path.join(AGENT_IMAGE_DIRECTORY, 'skills'))).toBe(realpathSync(SKILLS_DIRECTORY));
    expect(() => checkImageSkillsLink(AGENT_IMAGE_DIRECTORY)).not.toThrow();
    const checkout = mkdtempSync(path.join(tmpdir(), 'cubicle-agent-'));
    writeFileSync(path.join(checkout, 'skills'), '../../skills'); // what Git writes where it cannot make a link
    expect(() => checkImageSkillsLink(checkout)).toThrow(
      /skills must be a symbolic link to \.\.\/\.\.\/skills .*git config core\.symlinks true/,
    );
  });
});

describe('lists that are sets', () => {
  it('reach the app sorted, so reordering them in the file changes no template', () => {
    const text = (order: 'a' | 'b') =>
      minimalConfigText({
        providers: order === 'a' ? '[openai, anthropic, bedrock]' : '[bedrock, anthropic, openai]',
        bedrock: `{ models: [${order === 'a' ? 'm2, m1' : 'm1, m2'}] }`,
        github: `{ owner: acme, repo: d, environments: [${order === 'a' ? 'prod, dev' : 'dev, prod'}] }`,
        connections: `{ crm: { hosts: [${order === 'a' ? 'b.crm.example, a.crm.example' : 'a.crm.example, b.crm.example'}] }, docs: { hosts: [d.example] } }`,
        users: `[{ id: alice, email: a@acme.example, agents: [{ id: s, provider: anthropic, connections: [${order === 'a' ? 'docs, crm' : 'crm, docs'}], skills: [${order === 'a' ? 'style-guide@0.3.1, crm-notes@1.2.0' : 'crm-notes@1.2.0, style-guide@0.3.1'}] }] }]`,
      });
    const a = parseConfigText(text('a'));
    expect(a).toEqual(parseConfigText(text('b')));
    expect(a.connections.crm.hosts).toEqual(['a.crm.example', 'b.crm.example']);
    expect(a.providers).toEqual(['anthropic', 'bedrock', 'openai']);
    expect(a.users[0].agents[0].connections).toEqual(['crm', 'docs']);
  });

  it('hold exact host names: a wildcard is refused, as the README says', () => {
    expect(problemLines(minimalConfigText({ connections: '{ crm: { hosts: ["*.crm.example"] } }' }))).toEqual([
      'connections.crm.hosts[0]: must be a lowercase DNS host name such as api.example.com (no scheme, port, path or wildcard), got "*.crm.example"',
    ]);
  });

  it('refuse a value listed twice', () => {
    expect(
      problemLines(
        minimalConfigText({
          connections: '{ crm: { hosts: [a.example, b.example, a.example] } }',
          bedrock: '{ models: [m1, m1] }',
        }),
      ),
    ).toEqual([
      'connections.crm.hosts[2]: host "a.example" is listed twice (also [0]): remove one',
      'bedrock.models[1]: model "m1" is listed twice (also [0]): remove one',
    ]);
  });
});

function parseOk(text: string, skills: ReturnType<typeof readSkillCatalog>): boolean {
  try {
    parseConfigText(text, 'test.yaml', { skills });
    return true;
  } catch {
    return false;
  }
}

/** A skills folder with a SKILL.md for each name and version. */
function catalogOf(skills: Record<string, string[]>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cubicle-skills-'));
  for (const [name, versions] of Object.entries(skills)) {
    for (const version of versions) {
      mkdirSync(path.join(dir, name, version), { recursive: true });
      writeFileSync(path.join(dir, name, version, 'SKILL.md'), `# ${name}\n`);
    }
  }
  return readSkillCatalog(dir);
}
