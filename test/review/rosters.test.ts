import { beforeAll, describe, expect, it } from 'vitest';
import { disabledControlTowerRules } from '../../lib/aspects/compliance';
import { parseConfigText } from '../../lib/config/load';
import { Review, runReview } from '../../scripts/review/report';
import { rosterConfigText, rosterUsers } from '../support/roster';
import { synthesize } from '../support/synth';
import { copyAssembly, failingClaims, findingsOf } from './support';
import { TABLES } from '../../runtime/shared/tables';

/**
 * Any roster, not just the example: 12 users × 3 agents over several Fleet shards, employees signing in
 * through an external OIDC issuer, a custom domain. Reviewed in full, then with the cross-pair matrix
 * sampled, where a defect between two shards is still caught.
 */

const doc = JSON.parse(
  rosterConfigText(rosterUsers({ users: 12, agentsPerUser: 3 }), { maxResourcesPerShard: 80, oidc: true }),
);
doc.edge = {
  domain: {
    name: 'api.acme.example',
    certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/0b6f3d1e-1111-4a2b-9c3d-123456789012',
  },
};
const config = parseConfigText(JSON.stringify(doc), 'sharded roster');
const dir = synthesize(config).outdir;
let full: Review;
let sampled: Review;

beforeAll(async () => {
  full = await runReview({ assemblyDir: dir });
  sampled = await runReview({ assemblyDir: dir, evaluationBudget: 10_000 });
});

describe('a sharded roster with an OIDC issuer and a custom domain', () => {
  it('passes, with every pair found across the shards', () => {
    expect(full.failing).toEqual([]);
    expect(full.counts).toMatchObject({
      users: 12,
      pairs: 36,
      accessPoints: 36,
      sharedAccessPoints: 0,
      sharedTaskRoles: 0,
    });
    expect(full.assembly.stacks.filter((s) => /-Fleet-\d\d$/.test(s.name)).length).toBeGreaterThanOrEqual(3);
    expect(full.counts.fileSystems).toBe(full.assembly.stacks.filter((s) => /-Fleet-\d\d$/.test(s.name)).length);
  });

  it('reads the identity, edge and compliance facts from these templates, not the example', () => {
    const authorizers = full.claims[3].checks.find((c) => c.id === 'identity.api-authorizers')!;
    expect(authorizers.evidence.join('\n')).toContain('issuer `https://login.acme.example`');
    expect(full.coverage.types.find((t) => t.type === 'AWS::Cognito::UserPool')).toBeUndefined();
    const disabled = full.compliance.record!.plugins.find((p) => p.kind === 'control-tower')!.disabledRules!;
    expect(disabled).toEqual(disabledControlTowerRules(config));
    expect(Object.keys(disabled)).not.toContain('ct-cloudfront-pr-6'); // checked: the domain has its certificate
  });

  it('evaluates the full matrix while it fits the budget', () => {
    const rows = full.matrix.categories.find((c) => c.id === 'rows')!;
    expect(full.matrix.sampling.full).toBe(true);
    expect(rows.evaluations).toBe(36 * 35 * 4 * Object.keys(TABLES).length);
    expect(full.matrix.unexpected).toEqual([]);
  });

  it("beyond the budget, samples other users' pairs, says so, and still checks every pair against its own resources and its user's other pairs", () => {
    const { sampling, categories } = sampled.matrix;
    expect(sampling.full).toBe(false);
    expect(sampling.othersPerPair).toBeGreaterThanOrEqual(3);
    expect(sampling.description).toContain(`against ${sampling.othersPerPair} pairs of other users chosen per pair`);
    const storage = categories.find((c) => c.id === 'storage')!;
    expect(storage.allowedAsExpected).toBe(36 * 2); // every pair mounts and writes its own access point
    // Per pair: its user's 2 other pairs and the sampled ones, 4 row calls on each table.
    expect(categories.find((c) => c.id === 'rows')!.evaluations).toBe(
      36 * (2 + sampling.othersPerPair!) * 4 * Object.keys(TABLES).length,
    );
    expect(sampled.matrix.evaluations).toBeLessThan(full.matrix.evaluations / 2);
    expect(sampled.verdict).toBe('pass');
  });

  it("sampled, still fails on a role that can read a user's secret in another shard (exhaustive structural checks)", async () => {
    const assembly = copyAssembly((t) => {
      const stacks = [...t.keys()].filter((s) => /-Fleet-\d\d$/.test(s)).sort();
      const [first, last] = [t.get(stacks[0])!, t.get(stacks[stacks.length - 1])!];
      const [secretId] = Object.entries(last.Resources).find(([, r]) => r.Type === 'AWS::SecretsManager::Secret')!;
      const secretName = last.Resources[secretId].Properties.Name;
      const [, role] = Object.entries(first.Resources).find(([, r]) => r.Type === 'AWS::IAM::Role')!;
      const read = role.Properties.Policies[0].PolicyDocument.Statement.find(
        (s: any) => s.Action === 'secretsmanager:GetSecretValue',
      );
      const arn = `arn:aws:secretsmanager:eu-west-1:111111111111:secret:${secretName}-*`;
      read.Resource = [read.Resource, arn].flat();
    }, dir);
    const review = await runReview({ assemblyDir: assembly, evaluationBudget: 10_000 });
    expect(review.matrix.sampling.full).toBe(false);
    expect(failingClaims(review)).toContain(3);
    expect(findingsOf(review, 3, 'credentials.own-resources')).toEqual([
      expect.stringMatching(
        /statement ReadOwnSecrets names secret cubicle\/acme\/u\d+\/\S+, which its task definition does not use$/,
      ),
    ]);
  });
});
