import * as fc from 'fast-check';
import { HOME_REGIONS } from '../../lib/config/regions';
import { FARGATE_MEMORY_BY_CPU, LOG_RETENTION_DAYS, OUTBOUND_POLICIES, PROVIDERS } from '../../lib/config/schema';
import { readSkillCatalog } from '../../lib/config/skills-catalog';
import { ID_MAX_LENGTH, NAME_MAX_LENGTH } from '../../runtime/shared/ids';
import { ACCOUNT } from './account';

/**
 * Random configs a platform engineer could write and expect to work: ids near the length limit, ids that
 * are prefixes of each other or differ only in "-" (`qa-1`, `qa1`, `qa--1`, `qa-`), digits and dashes,
 * a connection next to `<it>-policy`, every provider, skills from the repository, small shards, OIDC or
 * Cognito, a custom domain, any region. As JSON text (JSON is YAML), parsed by the real loader.
 */

/** Lowercase ids from a small alphabet, so prefixes and near-collisions are common. */
export function randomId(maxLength: number): fc.Arbitrary<string> {
  const tail = fc.array(fc.constantFrom('a', 'q', '1', '0', '-'), { maxLength: maxLength - 1 });
  const plain = fc.tuple(fc.constantFrom('a', 'q'), tail).map(([first, rest]) => first + rest.join(''));
  const long = fc
    .tuple(fc.constantFrom('u', 'a-', 'q1-'), fc.constantFrom('-', '1', 'x'))
    .map(([stem, end]) => stem.repeat(maxLength).slice(0, maxLength - 1) + end);
  return fc.oneof(
    { arbitrary: plain, weight: 4 },
    { arbitrary: long, weight: 1 },
    { arbitrary: fc.constantFrom('qa', 'qa1', 'qa-1', 'qa--1', 'qa-', 'q-a'), weight: 2 },
  );
}

const ids = (max: number, min: number, maxLength = ID_MAX_LENGTH) =>
  fc.uniqueArray(randomId(maxLength), { minLength: min, maxLength: max });

const SKILLS = [...readSkillCatalog().versions].flatMap(([name, versions]) => versions.map((v) => `${name}@${v}`));
// The smallest Fargate size per cpu that fits the supervisor and the workbench (at least 896 MiB, lib/config/cross-checks.ts).
const SIZES = Object.entries(FARGATE_MEMORY_BY_CPU).map(
  ([cpu, memory]) => [Number(cpu), memory.find((m) => m >= 896)!] as const,
);

export const randomConfigText: fc.Arbitrary<string> = fc
  .record({
    name: randomId(NAME_MAX_LENGTH),
    region: fc.constantFrom(...HOME_REGIONS),
    zones: fc.constantFrom(undefined, ['b', 'c'], ['c', 'a']),
    providers: fc.subarray([...PROVIDERS], { minLength: 1 }),
    connections: ids(4, 0).chain((names) =>
      fc.tuple(
        fc.constant(names),
        fc.array(fc.boolean(), { minLength: names.length, maxLength: names.length }),
        fc.boolean(),
      ),
    ),
    users: ids(5, 1),
    agentIds: fc.array(ids(3, 1), { minLength: 5, maxLength: 5 }),
    picks: fc.array(fc.nat(), { minLength: 60, maxLength: 60 }),
    small: fc.constantFrom(undefined, undefined, 20, 40, 60),
    oidc: fc.boolean(),
    domain: fc.boolean(),
    retention: fc.constantFrom(...LOG_RETENTION_DAYS),
    size: fc.constantFrom(...SIZES),
    arm: fc.boolean(),
    // Platform switches, each drawn independently.
    nat: fc.constantFrom(1, 2),
    endpoints: fc.boolean(),
    bot: fc.boolean(),
    rateLimit: fc.constantFrom(10, 1000, 2_000_000_000),
    secretVersion: fc.boolean(),
    prDiff: fc.boolean(),
    importedOidc: fc.boolean(),
    invokeName: fc.boolean(),
    qualifier: fc.constantFrom(undefined, 'a1', 'zzzzzzzzzz'),
    durations: fc.constantFrom(undefined, ['5m', '60s'], ['24h', '23h']),
  })
  .map((r) => {
    let p = 0;
    const pick = <T>(from: readonly T[]): T => from[r.picks[p++ % r.picks.length] % from.length];
    const subset = <T>(from: readonly T[]): T[] => from.filter(() => pick([true, false]));
    const [names, secret, policySibling] = r.connections;
    // `x` and `x-policy` in one vault is where construct ids once collided.
    const connectionNames =
      policySibling && names.length > 0 && names[0].length <= ID_MAX_LENGTH - 7
        ? [...names, `${names[0]}-policy`]
        : names;
    const connections = Object.fromEntries(
      connectionNames.map((name, i) => [
        name,
        {
          hosts: pick([0, 1])
            ? [`h${i}.example.com`, `api-${i}.${name.replace(/-+$/, 'x')}.example`]
            : [`api-${i}.${name.replace(/-+$/, 'x')}.example`, `h${i}.example.com`],
          secret: secret[i] ?? true,
        },
      ]),
    );
    return JSON.stringify({
      name: r.name,
      account: ACCOUNT,
      region: r.region,
      ...(r.zones ? { availabilityZones: r.zones.map((z) => `${r.region}${z}`) } : {}),
      iamRoleBudget: 5000,
      ...(r.small ? { fleet: { maxResourcesPerShard: r.small } } : {}),
      ...(r.qualifier ? { bootstrapQualifier: r.qualifier } : {}),
      network: { natGateways: r.nat, interfaceEndpoints: r.endpoints },
      runtime: {
        cpu: r.size[0],
        memoryMiB: r.size[1],
        architecture: r.arm ? 'arm64' : 'x86_64',
        ...(r.durations ? { maxTaskDuration: r.durations[0], idleTimeout: r.durations[1] } : {}),
      },
      logs: { retentionDays: r.retention },
      identity: r.oidc
        ? { oidc: { issuer: 'https://login.acme.example', audience: 'cubicle' } }
        : { mfa: pick(['off', 'optional', 'required']) },
      edge: {
        managedRules: { botControl: r.bot, anonymousIp: !r.bot },
        rateLimit: r.rateLimit,
        ...(r.domain
          ? {
              domain: {
                name: 'api.acme.example',
                certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/1234abcd-12ab-34cd-56ef-1234567890ab',
              },
            }
          : {}),
        ...(r.secretVersion ? { originSecretVersion: '0b0e1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d' } : {}),
      },
      github: {
        owner: 'acme',
        repo: 'cubicle-deploy',
        environments: subset(['production', 'staging']).concat('dev'),
        pullRequestDiff: r.prDiff,
        ...(r.importedOidc
          ? { oidcProviderArn: 'arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com' }
          : {}),
        ...(r.invokeName ? { invokeFunctionName: `${r.name}_run-1` } : {}),
      },
      providers: r.providers,
      ...(r.providers.includes('bedrock')
        ? { bedrock: { models: ['us.anthropic.claude-sonnet-4-5-20250929-v1:0'] } }
        : {}),
      connections,
      users: r.users.map((id, u) => ({
        id,
        email: `${id}@acme.example`,
        agents: r.agentIds[u].map((agentId) => ({
          id: agentId,
          provider: pick(r.providers),
          connections: subset(Object.keys(connections)),
          skills: [...new Map(subset(SKILLS).map((s) => [s.split('@')[0], s])).values()],
          outbound: pick(OUTBOUND_POLICIES),
        })),
      })),
    });
  });
