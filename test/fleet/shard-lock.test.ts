import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfigText } from '../../lib/config/load';
import { FrozenLockError, lockFileFor, lockFileText, readLockFile, resolveShardPlan } from '../../lib/fleet/lock';
import { agentRoleName, fleetStackName } from '../../lib/fleet/naming';
import { FleetError, planShards, shardBaseResources, userResources } from '../../lib/fleet/shards';
import { SHARD_TEMPLATE_BYTES_BUDGET } from '../../lib/fleet/template-bytes';
import { REPO_ROOT } from '../support/example-config';
import { rosterConfig, rosterConfigText, rosterUsers, shuffled } from '../support/roster';

const EMPTY = { users: {} };

describe('shard planning', () => {
  // 3 agents per user with these patterns: 16-19 resources per user, shard base 3.
  const config = rosterConfig({ users: 12, agentsPerUser: 3, maxResourcesPerShard: 60 });

  it('counts a user as key + alias + 2 per secret + 3 per agent', () => {
    const alice = config.users[0];
    expect(alice.agents.map((a) => [a.id, a.provider, a.connections])).toEqual([
      ['sales', 'anthropic', ['crm']],
      ['finance-1', 'openai', ['bank-feed', 'docs']],
      ['research', 'bedrock', ['docs']],
    ]);
    // Secrets: provider/anthropic, provider/openai, connection/crm, connection/bank-feed (docs has none).
    expect(userResources(config, alice)).toBe(2 + 2 * 4 + 3 * 3);
    expect(shardBaseResources(config)).toBe(3);
  });

  it('fills the least-full shard that has room, opening a shard only when none has', () => {
    const plan = planShards(config, EMPTY);
    expect(plan.added).toEqual(config.users.map((u) => u.id));
    for (const shard of plan.shards) expect(shard.resources).toBeLessThanOrEqual(60);
    const total = config.users.reduce((n, u) => n + userResources(config, u), 0);
    expect(plan.shards.reduce((n, s) => n + s.resources - 3, 0)).toBe(total);
    // A shard is opened only when no earlier shard has room for the user who opens it (the first, by id).
    expect(plan.shards.length).toBeGreaterThan(1);
    for (const later of plan.shards.slice(1)) {
      const opener = later.users[0];
      for (const earlier of plan.shards.filter((s) => s.shard < later.shard)) {
        expect(60 - earlier.resources).toBeLessThan(userResources(config, opener));
      }
    }
  });

  it('sends a new user to the least-full shard, never moves anyone, and keeps removed users in the lock', () => {
    const lock = { users: { u000: 1, u001: 1, u002: 2, gone: 3 } };
    const plan = planShards(config, lock);
    for (const [user, shard] of Object.entries(lock.users)) expect(plan.lock.users[user]).toBe(shard);
    expect(plan.shards.map((s) => s.shard)).toEqual(expect.arrayContaining([1, 2, 3]));
    // Shard 3 holds only a removed user: it is the least full, so the first new user goes there.
    expect(plan.lock.users.u003).toBe(3);
    expect(plan.shards.find((s) => s.shard === 3)!.users.map((u) => u.id)).toContain('u003');
  });

  it('assigns the same shards whatever the roster order', () => {
    const users = rosterUsers({ users: 12, agentsPerUser: 3 });
    const a = planShards(rosterConfig({ users: 12, agentsPerUser: 3, maxResourcesPerShard: 60 }), EMPTY);
    for (const seed of [1, 2, 3]) {
      const text = rosterConfigText(
        shuffled(users, seed).map((u) => ({ ...u, agents: shuffled(u.agents, seed) })),
        { maxResourcesPerShard: 60 },
      );
      const b = planShards(parseConfigText(text), EMPTY);
      expect(b.lock).toEqual(a.lock);
    }
  });

  it('refuses a user bigger than a shard, naming the user and the fix', () => {
    const small = rosterConfig({ users: 1, agentsPerUser: 7, maxResourcesPerShard: 20 });
    expect(() => planShards(small, EMPTY)).toThrow(FleetError);
    expect(() => planShards(small, EMPTY)).toThrow(
      /user "u000" needs \d+ resources .* give the user fewer agents or connections/,
    );
  });

  it("refuses a shard that grew past CloudFormation's 500 resources, and warns above the target", () => {
    const big = rosterConfig({ users: 30, agentsPerUser: 5, maxResourcesPerShard: 450 });
    const everyoneInOne = { users: Object.fromEntries(big.users.map((u) => [u.id, 1])) };
    expect(() => planShards(big, everyoneInOne)).toThrow(
      /shard 1 would hold \d+ resources, over CloudFormation's 500 per stack/,
    );
    const grown = { users: Object.fromEntries(big.users.slice(0, 17).map((u) => [u.id, 1])) };
    const plan = planShards(rosterConfig({ users: 17, agentsPerUser: 5, maxResourcesPerShard: 400 }), grown);
    expect(plan.warnings).toEqual([
      expect.stringMatching(/^shard 1 holds 4\d\d resources, above fleet.maxResourcesPerShard 400/),
    ]);
  });

  it('refuses a user whose template alone would not fit a shard, naming the user and the fix', () => {
    // 90 agents: 272 resources fit under 450, but about 770 kB of template do not fit in 750 kB.
    const huge = rosterConfig({ users: 1, agentsPerUser: 90 });
    expect(userResources(huge, huge.users[0])).toBeLessThan(huge.fleet.maxResourcesPerShard);
    expect(() => planShards(huge, EMPTY)).toThrow(
      /^user "u000" needs about \d+ kB of template, more than fit in one shard \(747 kB; CloudFormation refuses templates over 1000 kB\): give the user fewer agents or connections$/,
    );
  });

  it('opens a shard when the template budget is spent, and warns when assigned users grew past it', () => {
    // 10 agents each: 38-42 resources but about 95 kB of template per user.
    const config = rosterConfig({ users: 16, agentsPerUser: 10 });
    const plan = planShards(config, EMPTY);
    for (const shard of plan.shards) {
      expect(shard.templateBytes).toBeLessThanOrEqual(SHARD_TEMPLATE_BYTES_BUDGET);
      expect(shard.resources).toBeLessThan(config.fleet.maxResourcesPerShard - 100);
    }
    expect(plan.shards.length).toBe(3);
    expect(plan.shards.reduce((n, s) => n + s.users.length, 0)).toBe(16);

    const grown = { users: Object.fromEntries(config.users.slice(0, 9).map((u) => [u.id, 1])) };
    const warned = planShards(rosterConfig({ users: 9, agentsPerUser: 10 }), grown);
    expect(warned.warnings).toEqual([
      expect.stringMatching(
        /^shard 1's template may reach \d+ kB, above the 750 kB planned for a shard \(its users grew: u000 \(\d+ kB\), .*CloudFormation refuses a template over 1000 kB/,
      ),
    ]);
  });
});

describe('the lock file', () => {
  const dir = () => mkdtempSync(path.join(tmpdir(), 'cubicle-lock-'));
  const write = (d: string, users = rosterUsers({ users: 3, agentsPerUser: 2 })) => {
    const file = path.join(d, 'acme.yaml');
    writeFileSync(file, rosterConfigText(users));
    return file;
  };

  it('lives beside the config file', () => {
    expect(lockFileFor('/x/config/example.yaml')).toBe('/x/config/example.lock.json');
    expect(lockFileFor('/x/acme.yml')).toBe('/x/acme.lock.json');
  });

  it('is written for new users, sorted, and left alone when nothing changes', () => {
    const d = dir();
    const config = loadConfigFile(write(d));
    resolveShardPlan(config, { frozen: false });
    const lockFile = path.join(d, 'acme.lock.json');
    const text = readFileSync(lockFile, 'utf8');
    expect(JSON.parse(text)).toEqual({
      '//': expect.stringContaining('commit it'),
      version: 1,
      users: { u000: 1, u001: 1, u002: 1 },
    });
    expect(text).toBe(lockFileText(readLockFile(lockFile)));
    // Frozen with nothing to add: no error, no write.
    expect(resolveShardPlan(config, { frozen: true }).added).toEqual([]);
  });

  it('with CI=true, refuses to change it and names the command that does', () => {
    const d = dir();
    const file = write(d);
    const config = loadConfigFile(file);
    resolveShardPlan(config, { frozen: false });
    const grown = loadConfigFile(write(d, rosterUsers({ users: 5, agentsPerUser: 2 })));
    withCi(() => {
      expect(() => resolveShardPlan(grown)).toThrow(FrozenLockError);
      expect(() => resolveShardPlan(grown)).toThrow(
        `${d}/acme.lock.json has no shard for users "u003", "u004", and CI=true forbids changing it (a user's shard is decided once, on a developer's machine, and reviewed). ` +
          `Fix: run \`npx cdk synth -c config=${file}\` locally (without CI=true), then commit ${d}/acme.lock.json.`,
      );
    });
  });

  it('with CI=true and no lock file, says the lock file is missing instead of listing every user', () => {
    const d = dir();
    const config = loadConfigFile(write(d));
    withCi(() => {
      expect(() => resolveShardPlan(config)).toThrow(
        new FrozenLockError(`${d}/acme.lock.json`, [], `npx cdk synth -c config=${d}/acme.yaml`, true).message,
      );
      expect(() => resolveShardPlan(config)).toThrow(
        /^\S+acme\.lock\.json: lock file missing, and CI=true forbids creating it .* restore the file from version control/,
      );
    });
    expect(existsSync(path.join(d, 'acme.lock.json'))).toBe(false);
  });

  it("with a merge conflict, says to keep both sides' entries, and names a user both sides placed", () => {
    const d = dir();
    const file = path.join(d, 'acme.lock.json');
    const conflicted = (theirs: string) =>
      [
        '{',
        '  "version": 1,',
        '  "users": {',
        '    "alice": 1,',
        '<<<<<<< HEAD',
        '    "bruno": 1,',
        '    "dana": 2',
        '=======',
        '    "bruno": 1,',
        theirs,
        '    "erin": 1',
        '>>>>>>> add-erin',
        '  }',
        '}',
        '',
      ].join('\n');
    writeFileSync(file, conflicted('    "dana": 2,'));
    const message = () => {
      try {
        readLockFile(file, 'npx cdk synth -c config=config/acme.yaml');
      } catch (err) {
        expect(err).toBeInstanceOf(FleetError);
        return (err as Error).message;
      }
      throw new Error('expected a merge-conflict error');
    };
    expect(message()).toBe(
      `${file} has an unresolved merge conflict. Resolve it by keeping both sides' entries under "users" (each user keeps the shard it was given), ` +
        'delete the <<<<<<<, ======= and >>>>>>> lines, then run `npx cdk synth -c config=config/acme.yaml` (it rewrites the file sorted) and commit it.',
    );
    writeFileSync(file, conflicted('    "dana": 1,'));
    expect(message()).toMatch(/ Both sides gave a shard to "dana" \(2 here, 1 there\): keep the one that is deployed/);
  });

  it('for a config parsed from text, stays in memory even with CI=true', () => {
    const before = process.env.CI;
    process.env.CI = 'true';
    try {
      const plan = resolveShardPlan(rosterConfig({ users: 2, agentsPerUser: 1 }));
      expect(plan.added).toEqual(['u000', 'u001']);
    } finally {
      if (before === undefined) delete process.env.CI;
      else process.env.CI = before;
    }
  });

  it('names what is wrong with a damaged lock file', () => {
    const d = dir();
    const file = path.join(d, 'acme.lock.json');
    writeFileSync(file, JSON.stringify({ version: 1, users: { alice: 0, Bob: 1 } }));
    expect(() => readLockFile(file)).toThrow(
      /not a Cubicle shard lock; restore it from version control\n {2}users\.alice: shard numbers start at 1\n {2}users\.Bob: /,
    );
    writeFileSync(file, '{ "version": 1, ');
    expect(() => readLockFile(file)).toThrow(/not valid JSON .* restore it from version control/);
  });

  it('is committed complete for the bundled example (CI synthesizes it with CI=true)', () => {
    const example = loadConfigFile(path.join(REPO_ROOT, 'config', 'example.yaml'));
    const lock = readLockFile(path.join(REPO_ROOT, 'config', 'example.lock.json'));
    expect(planShards(example, lock).added).toEqual([]);
    expect(Object.keys(lock.users).sort()).toEqual(example.users.map((u) => u.id).sort());
  });
});

function withCi(run: () => void): void {
  const before = process.env.CI;
  process.env.CI = 'true';
  try {
    run();
  } finally {
    if (before === undefined) delete process.env.CI;
    else process.env.CI = before;
  }
}

describe('names', () => {
  it('name shard stacks with two-digit numbers', () => {
    expect(fleetStackName('acme', 1)).toBe('acme-Fleet-01');
    expect(fleetStackName('acme', 123)).toBe('acme-Fleet-123');
  });

  it("name a task role after its task family, within IAM's 64 characters", () => {
    expect(agentRoleName('acme', 'alice', 'sales')).toBe('acme-alice_sales');
    const long = agentRoleName('abcdefghijklmnop', 'u'.repeat(24), 'a'.repeat(24));
    expect(long).toHaveLength(64);
    expect(long).toMatch(/^abcdefghijklmnop-u{24}_a{13}-[0-9a-f]{8}$/);
    expect(agentRoleName('abcdefghijklmnop', 'u'.repeat(24), `${'a'.repeat(23)}b`)).not.toBe(long);
  });
});
