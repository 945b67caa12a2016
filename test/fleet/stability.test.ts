import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../lib/app';
import { parseConfigText } from '../../lib/config/load';
import { planShards, ShardLock } from '../../lib/fleet/shards';
import { readTemplates, TemplateJson } from '../support/assembly';
import { REPO_ROOT } from '../support/example-config';
import { ROSTER_CONNECTIONS, rosterConfigText, rosterUsers, RosterUser, shuffled } from '../support/roster';
import { CDK_JSON_CONTEXT } from '../support/synth';

/**
 * Roster edits never replace another user's stateful resources (claim 12, docs/isolation-claims.md): logical ids and
 * properties derive from user and agent ids only, and a user's shard never changes.
 */

const SHARD_SIZE = { maxResourcesPerShard: 80 };
const base = rosterUsers({ users: 9, agentsPerUser: 3 });
const baseConfig = parseConfigText(rosterConfigText(base, SHARD_SIZE));
const lock = planShards(baseConfig, { users: {} }).lock;

function synth(
  users: readonly RosterUser[],
  shardLock: ShardLock,
  connections: Record<string, { hosts: readonly string[]; secret: boolean }> = ROSTER_CONNECTIONS,
): Map<string, TemplateJson> {
  const outdir = mkdtempSync(path.join(tmpdir(), 'cubicle-stability-'));
  const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
  createApp(app, parseConfigText(rosterConfigText(users, { ...SHARD_SIZE, connections })), {
    fleetLock: { lock: shardLock },
  });
  app.synth();
  return readTemplates(outdir);
}

const before = synth(base, lock);
const fleetStacks = [...before.keys()].filter((n) => n.includes('-Fleet-'));

/**
 * The ControlPlane stack's functions bundle the roster directory (lib/constructs/control-plane-roster.ts,
 * sorted by id), whose code asset changes when users are added or removed, and the directory sync's input
 * is a digest of the roster's identities (lib/constructs/directory-sync.ts), which changes with them. It
 * holds no resource per user. Nothing else in that stack may change.
 */
const CONTROL_PLANE = 'acme-ControlPlane';
function withoutCodeAssets(template: TemplateJson | undefined, editedUser?: string): unknown {
  const resources = Object.entries(template?.Resources ?? {}).filter(
    ([id]) => !(editedUser && id.includes(`User${editedUser}`)),
  );
  return JSON.parse(
    JSON.stringify({ ...template, Resources: Object.fromEntries(resources) })
      .replace(/"S3Key":"[0-9a-f]{64}\.zip"/g, '"S3Key":"<code>"')
      .replace(/"RosterIdentities":"[0-9a-f]{64}"/g, '"RosterIdentities":"<digest>"'),
  );
}
/** Every stack but `except` is unchanged; in the ControlPlane, all but the code and the roster digest. */
function expectSameStacks(after: Map<string, TemplateJson>, except: string[], editedUser?: string): void {
  expect([...after.keys()]).toEqual([...before.keys()]);
  for (const [name, template] of before) {
    if (except.includes(name)) continue;
    if (name === CONTROL_PLANE)
      expect(withoutCodeAssets(after.get(name), editedUser), name).toEqual(withoutCodeAssets(template, editedUser));
    else expect(after.get(name), name).toEqual(template);
  }
}

/** Logical ids of a template's resources that belong to a user (construct path User<Id>/...). */
const ownedBy = (template: TemplateJson, constructId: string) =>
  Object.keys(template.Resources).filter((id) => new RegExp(`^User${constructId}(Vault|Agent)`).test(id));

describe('the roster under test', () => {
  it('spreads 9 users over several shards', () => {
    expect(fleetStacks.length).toBeGreaterThanOrEqual(3);
  });
});

describe('reordering the roster', () => {
  it("gives identical templates (users, agents, connections, skills and a connection's hosts shuffled)", () => {
    const reordered = shuffled(base, 7).map((user, i) => ({
      ...user,
      agents: shuffled(user.agents, i).map((agent) => ({
        ...agent,
        connections: [...agent.connections].reverse(),
        skills: [...agent.skills].reverse(),
      })),
    }));
    expect(reordered.map((u) => u.id)).not.toEqual(base.map((u) => u.id));
    const hostsReversed = Object.fromEntries(
      Object.entries(ROSTER_CONNECTIONS).map(([name, c]) => [name, { ...c, hosts: [...c.hosts].reverse() }]),
    );
    expect(hostsReversed.crm.hosts).toEqual(['api.crm.acme.example', 'crm.acme.example']);
    expectSameStacks(synth(reordered, lock, hostsReversed), []);
  });
});

describe('adding a user', () => {
  const added = [...base, ...rosterUsers({ users: 0, agentsPerUser: 2, extraUserIds: ['zoe'] })];
  const plan = planShards(parseConfigText(rosterConfigText(added, SHARD_SIZE)), lock);
  const after = synth(added, plan.lock);

  it('assigns only the new user, to the least-full shard that has room', () => {
    expect(plan.added).toEqual(['zoe']);
    const loads = planShards(baseConfig, lock).shards;
    const target = plan.lock.users.zoe;
    const need =
      plan.shards.find((s) => s.shard === target)!.resources - loads.find((s) => s.shard === target)!.resources;
    const withRoom = loads.filter((s) => s.resources + need <= SHARD_SIZE.maxResourcesPerShard);
    expect(withRoom.length).toBeGreaterThan(0);
    expect(target).toBe(withRoom.sort((a, b) => a.resources - b.resources || a.shard - b.shard)[0].shard);
  });

  it("changes exactly one Fleet stack, the new user's shard, and only by adding the new user's resources", () => {
    const changed = fleetStacks.filter((name) => JSON.stringify(after.get(name)) !== JSON.stringify(before.get(name)));
    const shardOfZoe = `acme-Fleet-${String(plan.lock.users.zoe).padStart(2, '0')}`;
    expect(changed).toEqual([shardOfZoe]);
    expectSameStacks(after, [shardOfZoe], 'Zoe');
    const old = before.get(shardOfZoe)!.Resources;
    const now = after.get(shardOfZoe)!.Resources;
    for (const [id, resource] of Object.entries(old)) expect(now[id], id).toEqual(resource);
    const newIds = Object.keys(now).filter((id) => !(id in old));
    expect(newIds.length).toBeGreaterThan(0);
    expect(newIds.every((id) => id.startsWith('UserZoe'))).toBe(true);
  });
});

describe('removing a user', () => {
  const victim = base[4];
  const after = synth(
    base.filter((u) => u !== victim),
    lock,
  );
  const shard = `acme-Fleet-${String(lock.users[victim.id]).padStart(2, '0')}`;

  it("changes no other user's resources, in any stack", () => {
    expectSameStacks(after, [shard], 'U004');
    const old = before.get(shard)!.Resources;
    const now = after.get(shard)!.Resources;
    const victimIds = ownedBy(before.get(shard)!, 'U004');
    expect(victimIds.length).toBeGreaterThan(0);
    for (const [id, resource] of Object.entries(old)) {
      if (victimIds.includes(id)) expect(now[id], id).toBeUndefined();
      else expect(now[id], id).toEqual(resource);
    }
    expect(Object.keys(now).length).toBe(Object.keys(old).length - victimIds.length);
  });

  it('leaves the lock as it was (the user keeps their shard if re-added)', () => {
    const remaining = parseConfigText(
      rosterConfigText(
        base.filter((u) => u !== victim),
        SHARD_SIZE,
      ),
    );
    const plan = planShards(remaining, lock);
    expect(plan.added).toEqual([]);
    expect(plan.lock).toEqual(lock);
  });
});

describe('`cdk synth` and the lock file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cubicle-cli-lock-'));
  const configFile = path.join(dir, 'team.yaml');
  const lockFile = path.join(dir, 'team.lock.json');
  writeFileSync(configFile, rosterConfigText(rosterUsers({ users: 2, agentsPerUser: 1 })));

  function cdkSynth(ci: boolean) {
    const home = mkdtempSync(path.join(tmpdir(), 'cubicle-home-'));
    const out = mkdtempSync(path.join(tmpdir(), 'cubicle-cli-out-'));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      AWS_EC2_METADATA_DISABLED: 'true',
      CDK_VALIDATION: 'false',
      ...(ci ? { CI: 'true' } : {}),
    };
    return spawnSync(
      path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk'),
      ['synth', '-q', '--exclusively', 'acme-Fleet-01', '--output', out, '-c', `config=${configFile}`],
      {
        cwd: REPO_ROOT,
        env,
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
  }

  it('with CI=true and no lock file: exits non-zero, says the lock is missing and how to fix it, writes nothing', () => {
    const result = cdkSynth(true);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(`${lockFile}: lock file missing, and CI=true forbids creating it`);
    expect(result.stderr).toContain(
      `run \`npx cdk synth -c config=${configFile}\` locally (without CI=true) and commit ${lockFile}`,
    );
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(lockFile)).toBe(false);
  });

  it('locally: writes the lock; then CI=true synthesizes with it unchanged', () => {
    expect(cdkSynth(false).status).toBe(0);
    const written = readFileSync(lockFile, 'utf8');
    expect(JSON.parse(written).users).toEqual({ u000: 1, u001: 1 });
    const ci = cdkSynth(true);
    expect(ci.stderr).not.toContain('FrozenLockError');
    expect(ci.status).toBe(0);
    expect(readFileSync(lockFile, 'utf8')).toBe(written);
  });
});
