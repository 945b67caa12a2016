import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CfnResource } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { constructIdOf } from '../../runtime/shared/ids';
import { parseConfigText } from '../../lib/config/load';
import { planShards, userResources } from '../../lib/fleet/shards';
import {
  CLOUDFORMATION_MAX_TEMPLATE_BYTES,
  SHARD_TEMPLATE_BYTES_BUDGET,
  userTemplateBytes,
} from '../../lib/fleet/template-bytes';
import { rosterConfigText, type RosterUser } from '../support/roster';
import { synthesize } from '../support/synth';

/**
 * A roster that fills a shard by bytes long before it fills it by resources: 10-agent users with the
 * longest ids the config allows, in the longest region name, beside small users with short ids. Planned
 * by resources alone (the default 450), ten heavy users share a shard whose template passes CloudFormation's
 * 1,000,000 bytes, so `cdk deploy` would fail on it.
 */
const LONG = 24;
const long = (prefix: string) => (prefix + '-' + 'x'.repeat(LONG)).slice(0, LONG);
const CONNECTION = long('crm'); // a connection id of the maximum length, with a secret
const PATTERNS = [
  { provider: 'anthropic', connections: [CONNECTION], skills: ['crm-notes@1.2.0'] },
  { provider: 'openai', connections: ['bank-feed', 'docs'], skills: [] },
  { provider: 'bedrock', connections: ['docs'], skills: [] },
  { provider: 'google', connections: [CONNECTION, 'docs'], skills: [] },
  { provider: 'anthropic', connections: [], skills: [] },
];
const heavy = (i: number): RosterUser => ({
  id: long(`h${i}`),
  email: `h${i}@acme.example`,
  agents: Array.from({ length: 10 }, (_, a) => ({
    id: long(`a${a}`),
    outbound: 'confirm',
    ...PATTERNS[(a + i) % PATTERNS.length],
    connections: [...PATTERNS[(a + i) % PATTERNS.length].connections],
    skills: [...PATTERNS[(a + i) % PATTERNS.length].skills],
  })),
});
const light = (i: number): RosterUser => ({
  id: `l${i}`,
  email: `l${i}@acme.example`,
  agents: Array.from({ length: 1 + (i % 2) }, (_, a) => ({
    id: ['sales', 'research'][a],
    outbound: 'allow',
    ...PATTERNS[(a + i) % PATTERNS.length],
    connections: [...PATTERNS[(a + i) % PATTERNS.length].connections],
    skills: [...PATTERNS[(a + i) % PATTERNS.length].skills],
  })),
});
const users = [...Array.from({ length: 12 }, (_, i) => heavy(i)), ...Array.from({ length: 8 }, (_, i) => light(i))];
const text = rosterConfigText(users, {
  name: 'acme-corporation', // the longest deployment name (16)
  connections: {
    [CONNECTION]: { hosts: ['crm.acme.example', 'api.crm.acme.example'], secret: true },
    'bank-feed': { hosts: ['api.bank.example'], secret: true },
    docs: { hosts: ['docs.acme.example', 'wiki.acme.example', 'files.acme.example'], secret: false },
  },
}).replace('"eu-west-1"', '"ap-southeast-7"'); // the longest region name in the aws partition
const config = parseConfigText(text, 'heavy roster');
const synth = synthesize(config);
const plan = planShards(config, { users: {} });

/** Bytes of each user's resources in their Fleet template, as CloudFormation receives them (no indentation). */
function actualBytes(): Map<string, number> {
  const bytes = new Map<string, number>();
  for (const stack of synth.stacks.fleets) {
    const resources = JSON.parse(readFileSync(path.join(synth.outdir, stack.templateFile), 'utf8')).Resources;
    for (const user of config.users) {
      const scope = stack.node.tryFindChild(`User${constructIdOf(user.id)}`);
      if (!scope) continue;
      const ids = scope.node
        .findAll()
        .filter((c): c is CfnResource => CfnResource.isCfnResource(c))
        .map((r) => stack.getLogicalId(r));
      // `"<id>":<resource>` plus the comma between entries.
      bytes.set(
        user.id,
        ids.reduce((n, id) => n + JSON.stringify({ [id]: resources[id] }).length - 1, 0),
      );
    }
  }
  return bytes;
}

describe('template bytes of a Fleet shard', () => {
  const actual = actualBytes();

  it("estimates every user's template bytes from above, within a quarter", () => {
    expect(actual.size).toBe(users.length);
    for (const user of config.users) {
      const real = actual.get(user.id)!;
      const estimate = userTemplateBytes(config, user);
      expect({ user: user.id, under: real <= estimate }).toEqual({ user: user.id, under: true });
      expect(estimate / real).toBeLessThan(1.25);
    }
  });

  it('would put an undeployable template in one shard if shards were filled by resources alone', () => {
    const heavyUsers = config.users.filter((u) => u.id.startsWith('h'));
    const perShard = Math.floor(config.fleet.maxResourcesPerShard / userResources(config, heavyUsers[0]));
    const firstShard = heavyUsers.slice(0, perShard).reduce((n, u) => n + actual.get(u.id)!, 0);
    expect(perShard).toBeGreaterThanOrEqual(10);
    expect(firstShard).toBeGreaterThan(CLOUDFORMATION_MAX_TEMPLATE_BYTES);
  });

  it("keeps every shard's template under its estimate and under CDK's warning at 80 % of the limit", () => {
    expect(plan.shards.length).toBe(synth.stacks.fleets.length);
    for (const [i, stack] of synth.stacks.fleets.entries()) {
      const size = readFileSync(path.join(synth.outdir, stack.templateFile)).length;
      expect(plan.shards[i].templateBytes).toBeLessThanOrEqual(SHARD_TEMPLATE_BYTES_BUDGET);
      expect(size).toBeLessThanOrEqual(plan.shards[i].templateBytes);
      expect(size).toBeLessThan(0.8 * CLOUDFORMATION_MAX_TEMPLATE_BYTES);
    }
    // Bytes, not resources, decided: no shard is anywhere near the resource target.
    expect(Math.max(...plan.shards.map((s) => s.resources))).toBeLessThan(config.fleet.maxResourcesPerShard * 0.8);
  });
});
