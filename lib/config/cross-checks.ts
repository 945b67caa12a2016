import { DEFAULT_SCHEDULED_RUN_MINUTES } from '../../runtime/shared/schedules';
import { FARGATE_MEMORY_BY_CPU, MAX_ROLE_BUDGET, MAX_SCHEDULES } from './schema';
import { parseDuration } from './duration';
import { LocatedProblem } from './problems';
import { missingSkill, SkillCatalog } from './skills-catalog';
import { didYouMean } from './suggest';

/**
 * Rules that relate one part of the file to another (or to the repository's skills folder). They run on
 * the raw parsed YAML, next to the schema rather than after it, so a file with a bad email still gets its
 * unknown connections reported. Each check looks only at values of the right shape and leaves shape
 * errors to the schema.
 */

type Raw = Record<string, unknown>;
type Add = (at: readonly PropertyKey[], message: string) => void;

const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export interface CrossCheckOptions {
  /** The skills agents may name; omitted, skills are not checked against a folder. */
  readonly skills?: SkillCatalog;
}

export function crossCheck(raw: unknown, options: CrossCheckOptions = {}): LocatedProblem[] {
  if (!isObject(raw)) return [];
  const problems: LocatedProblem[] = [];
  const add: Add = (at, message) => problems.push({ at, message });

  const providers = new Set(asArray(raw.providers).filter((p): p is string => typeof p === 'string'));
  const connections = isObject(raw.connections) ? raw.connections : {};

  checkUniqueStrings(asArray(raw.providers), ['providers'], 'provider', add);
  checkZones(raw.availabilityZones, str(raw.region), add);
  checkRuntime(raw.runtime, add);
  checkGithub(raw.github, str(raw.account), add);
  checkNotifications(raw.notifications, str(raw.region), str(raw.account), add);
  for (const [name, connection] of Object.entries(connections)) {
    if (isObject(connection))
      checkUniqueStrings(asArray(connection.hosts), ['connections', name, 'hosts'], 'host', add);
  }
  if (isObject(raw.bedrock)) checkUniqueStrings(asArray(raw.bedrock.models), ['bedrock', 'models'], 'model', add);

  if (providers.has('bedrock') && !(isObject(raw.bedrock) && Array.isArray(raw.bedrock.models))) {
    add(['bedrock'], 'bedrock is listed in providers, so bedrock.models must list the model ids its agents may invoke');
  }

  const userIds = new Map<string, number>();
  const emails = new Map<string, number>();
  const maxTaskSeconds =
    isObject(raw.runtime) && typeof raw.runtime.maxTaskDuration === 'string'
      ? parseDuration(raw.runtime.maxTaskDuration)
      : 7200;
  let pairs = 0;
  let schedules = 0;
  asArray(raw.users).forEach((user, u) => {
    if (!isObject(user)) return;
    const userId = str(user.id);
    if (userId !== undefined) {
      const first = userIds.get(userId);
      if (first !== undefined)
        add(['users', u, 'id'], `duplicate user id "${userId}" (also users[${first}]): give each user their own id`);
      else userIds.set(userId, u);
    }
    const email = str(user.email)?.toLowerCase();
    if (email !== undefined) {
      const first = emails.get(email);
      if (first !== undefined)
        add(['users', u, 'email'], `duplicate email "${email}" (also users[${first}]): one employee, one roster entry`);
      else emails.set(email, u);
    }

    const agentIds = new Map<string, number>();
    const userLimit =
      monthlyUsd(user.budget) ?? (isObject(raw.budgets) ? num(raw.budgets.monthlyUsdPerUser) : undefined);
    if (monthlyUsd(user.budget) !== undefined && !isObject(raw.budgets)) {
      add(
        ['users', u, 'budget', 'monthlyUsd'],
        'a user limit needs budgets.monthlyUsdPerUser at the top of the file (limits are enforced only when budgets is set)',
      );
    }
    asArray(user.agents).forEach((agent, a) => {
      if (!isObject(agent)) return;
      pairs += 1;
      const at = ['users', u, 'agents', a];
      checkAgentBudget(agent, at, userLimit, isObject(raw.budgets), add);
      const agentId = str(agent.id);
      if (agentId !== undefined) {
        const first = agentIds.get(agentId);
        if (first !== undefined)
          add([...at, 'id'], `duplicate agent id "${agentId}" for this user (also agents[${first}]): rename one`);
        else agentIds.set(agentId, a);
      }
      const provider = str(agent.provider);
      if (provider !== undefined && providers.size > 0 && !providers.has(provider)) {
        add(
          [...at, 'provider'],
          `provider "${provider}" is not listed in providers (${[...providers].join(', ')}): add it there or pick one of those`,
        );
      }
      asArray(agent.connections).forEach((name, c) => {
        if (typeof name === 'string' && !Object.prototype.hasOwnProperty.call(connections, name)) {
          const known = Object.keys(connections);
          add(
            [...at, 'connections', c],
            `unknown connection "${name}"${didYouMean(name, known)}${known.length ? ` (defined: ${known.join(', ')})` : ' (no connections are defined: add it under connections)'}`,
          );
        }
      });
      checkUniqueStrings(asArray(agent.connections), [...at, 'connections'], 'connection', add);
      schedules += checkSchedules(agent, at, connections, maxTaskSeconds, add);
      const skills = asArray(agent.skills);
      checkUniqueStrings(
        skills.map((s) => (typeof s === 'string' ? s.split('@')[0] : s)),
        [...at, 'skills'],
        'skill',
        add,
      );
      if (options.skills) {
        skills.forEach((ref, s) => {
          const missing = typeof ref === 'string' ? missingSkill(options.skills!, ref) : undefined;
          if (missing) add([...at, 'skills', s], missing);
        });
      }
    });
  });

  if (schedules > MAX_SCHEDULES) {
    add(
      ['users'],
      `${schedules} schedules exceed the limit of ${MAX_SCHEDULES} per deployment (each is a resource of the ControlPlane stack): remove some or merge them`,
    );
  }

  const budget = typeof raw.iamRoleBudget === 'number' ? raw.iamRoleBudget : 1000;
  if (budget <= MAX_ROLE_BUDGET && pairs > budget) {
    add(
      ['users'],
      `${pairs} (user, agent) pairs exceed iamRoleBudget ${budget}: each pair has its own IAM role; ` +
        `raise iamRoleBudget (after raising the account's IAM roles quota, at most ${MAX_ROLE_BUDGET}) or remove agents`,
    );
  }
  return problems;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const monthlyUsd = (budget: unknown): number | undefined => (isObject(budget) ? num(budget.monthlyUsd) : undefined);

/** An agent limit above its user's limit could never bind; a limit without fleet budgets would never be enforced. */
function checkAgentBudget(
  agent: Raw,
  at: readonly PropertyKey[],
  userLimit: number | undefined,
  fleetBudgets: boolean,
  add: Add,
): void {
  const limit = monthlyUsd(agent.budget);
  if (limit === undefined) return;
  if (!fleetBudgets) {
    add(
      [...at, 'budget', 'monthlyUsd'],
      'an agent limit needs budgets.monthlyUsdPerUser at the top of the file (limits are enforced only when budgets is set)',
    );
  } else if (userLimit !== undefined && limit > userLimit) {
    add(
      [...at, 'budget', 'monthlyUsd'],
      `${limit} USD is more than this user's monthly limit (${userLimit} USD): it could never be reached; lower it or raise the user's limit`,
    );
  }
}

/** Schedules of one agent: unique ids, hosts among the agent's connections, run cap within a task's life. */
function checkSchedules(
  agent: Raw,
  at: readonly PropertyKey[],
  connections: Raw,
  maxTaskSeconds: number | undefined,
  add: Add,
): number {
  const list = asArray(agent.schedules);
  checkUniqueStrings(
    list.map((s) => (isObject(s) ? s.id : undefined)),
    [...at, 'schedules'],
    'schedule id',
    add,
  );
  const reachable = new Set(
    asArray(agent.connections).flatMap((name) => {
      const connection =
        typeof name === 'string' && Object.prototype.hasOwnProperty.call(connections, name)
          ? connections[name]
          : undefined;
      return isObject(connection) ? asArray(connection.hosts).filter((h): h is string => typeof h === 'string') : [];
    }),
  );
  list.forEach((schedule, i) => {
    if (!isObject(schedule)) return;
    const here = [...at, 'schedules', i];
    asArray(schedule.outbound).forEach((host, h) => {
      if (typeof host === 'string' && !reachable.has(host)) {
        add(
          [...here, 'outbound', h],
          `host "${host}" is not a host of this agent's connections${reachable.size ? ` (${[...reachable].sort().join(', ')})` : ' (it has none)'}: the egress allow-list would block it; add the connection to the agent or remove the host`,
        );
      }
    });
    const minutes = typeof schedule.maxRunMinutes === 'number' ? schedule.maxRunMinutes : DEFAULT_SCHEDULED_RUN_MINUTES;
    if (maxTaskSeconds !== undefined && minutes * 60 > maxTaskSeconds) {
      add(
        [...here, 'maxRunMinutes'],
        `${minutes} minutes is longer than runtime.maxTaskDuration (${maxTaskSeconds}s): a task never lives that long; lower maxRunMinutes`,
      );
    }
    if (schedule.rate !== undefined && schedule.timezone !== undefined && schedule.timezone !== 'UTC') {
      add([...here, 'timezone'], 'timezone applies to cron only: remove it from a rate schedule');
    }
  });
  return list.length;
}

function checkUniqueStrings(values: unknown[], at: readonly PropertyKey[], what: string, add: Add): void {
  const seen = new Map<string, number>();
  values.forEach((value, i) => {
    if (typeof value !== 'string') return;
    const first = seen.get(value);
    if (first !== undefined) add([...at, i], `${what} "${value}" is listed twice (also [${first}]): remove one`);
    else seen.set(value, i);
  });
}

function checkZones(zones: unknown, region: string | undefined, add: Add): void {
  if (!Array.isArray(zones) || region === undefined) return;
  zones.forEach((zone, i) => {
    if (typeof zone === 'string' && !new RegExp(`^${region}[a-z]$`).test(zone)) {
      add(['availabilityZones', i], `"${zone}" is not a zone of region ${region} (expected e.g. ${region}a)`);
    }
  });
  if (zones.length === 2 && zones[0] === zones[1]) {
    add(['availabilityZones', 1], 'the two availability zones must differ');
  }
}

/** Smallest task memory two containers fit in (agent-containers.ts asserts the same at synth). */
const MIN_TASK_MEMORY_MIB = 896;

function checkRuntime(runtime: unknown, add: Add): void {
  if (!isObject(runtime)) return;
  const cpu = typeof runtime.cpu === 'number' ? runtime.cpu : 1024;
  const memory = typeof runtime.memoryMiB === 'number' ? runtime.memoryMiB : 2048;
  const allowed = FARGATE_MEMORY_BY_CPU[cpu];
  if (allowed && !allowed.includes(memory)) {
    add(
      ['runtime', 'memoryMiB'],
      `${memory} MiB is not a Fargate size for cpu ${cpu}; allowed: ${allowed[0]}–${allowed[allowed.length - 1]} ` +
        `in steps of ${allowed.length > 1 ? allowed[1] - allowed[0] : allowed[0]}`,
    );
  }
  // Two containers share the task (lib/constructs/agent-containers.ts): the supervisor keeps 384 MiB, the workbench's CLI needs 512.
  if (memory < MIN_TASK_MEMORY_MIB) {
    add(
      ['runtime', 'memoryMiB'],
      `${memory} MiB is too small: the supervisor keeps 384 MiB and the CLI needs 512, so use at least ${MIN_TASK_MEMORY_MIB} (e.g. 1024 with cpu 256)`,
    );
  }
  const max = typeof runtime.maxTaskDuration === 'string' ? parseDuration(runtime.maxTaskDuration) : 7200;
  const idle = typeof runtime.idleTimeout === 'string' ? parseDuration(runtime.idleTimeout) : 900;
  if (max !== undefined && idle !== undefined && idle >= max) {
    add(['runtime', 'idleTimeout'], `idleTimeout (${idle}s) must be shorter than maxTaskDuration (${max}s)`);
  }
}

function checkGithub(github: unknown, account: string | undefined, add: Add): void {
  if (!isObject(github)) return;
  // GitHub environment names are case-insensitive, so "Prod" and "prod" are one environment.
  const seen = new Map<string, number>();
  asArray(github.environments).forEach((env, i) => {
    if (typeof env !== 'string') return;
    const first = seen.get(env.toLowerCase());
    if (first !== undefined)
      add(['github', 'environments', i], `environment "${env}" is listed twice (also [${first}]): remove one`);
    else seen.set(env.toLowerCase(), i);
  });
  // AssumeRoleWithWebIdentity only accepts a provider of the role's own account.
  const arnAccount = str(github.oidcProviderArn)?.split(':')[4];
  if (arnAccount !== undefined && account !== undefined && arnAccount !== account) {
    add(
      ['github', 'oidcProviderArn'],
      `the provider is in account ${arnAccount} but the roles are in account ${account}: import this account's provider or remove oidcProviderArn to create one`,
    );
  }
}

/**
 * An imported SES identity must be usable by the notifier: in the home region and account (SES sends only
 * through identities of its own region), and the sender's own address or its domain.
 */
function checkNotifications(raw: unknown, region: string | undefined, account: string | undefined, add: Add): void {
  const email = isObject(raw) && isObject(raw.email) ? raw.email : undefined;
  const arn = str(email?.identityArn);
  const from = str(email?.from);
  const parts = arn ? /^arn:aws[a-z-]*:ses:([a-z0-9-]+):(\d{12}):identity\/(.+)$/.exec(arn) : null;
  if (!parts) return;
  const at = ['notifications', 'email', 'identityArn'];
  if (region && parts[1] !== region)
    add(at, `the identity is in ${parts[1]}, but SES sends from the home region ${region}: verify the identity there`);
  if (account && parts[2] !== account)
    add(at, `the identity belongs to account ${parts[2]}, not this deployment's account ${account}`);
  const identity = parts[3].toLowerCase();
  const sender = from?.toLowerCase();
  if (sender && sender.includes('@') && identity !== sender && identity !== sender.split('@')[1]) {
    add(at, `the identity ${parts[3]} is neither the sender ${from} nor its domain ${from!.split('@')[1]}`);
  }
}
