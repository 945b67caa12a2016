import { describe, expect, it } from 'vitest';
import { TABLES, TableName } from '../../../runtime/shared/tables';
import { resourcesOfType } from '../../support/assembly';
import { exampleConfig } from '../../support/example-config';
import { IamSimulator, type SimulatedPrincipal, type SimulatedRequest } from '../../support/iam-simulator';
import { CONTROL_PLANE_STACK, exampleControlPlane, HOME_REGION } from './support/principals';
import { functionOf, type FunctionName } from './support/template';
import { ACCOUNT } from '../../support/account';

/**
 * The control plane's roles evaluated by a real IAM evaluator against the deployed shape of the example
 * app: every table × every DynamoDB item action, every fleet secret and user key, and the ECS and
 * PassRole requests of a wake. Expected outcomes are written out here, not read from lib/.
 */

const REGION = HOME_REGION;
const STACK = CONTROL_PLANE_STACK;
const { templates, json, resolver, model } = exampleControlPlane();
const config = exampleConfig();

const platformResource = (type: string) => resourcesOfType(templates.get('acme-Platform')!, type).map(([id]) => id);
const clusterId = platformResource('AWS::ECS::Cluster')[0];
/** The resolver has no ARN shape for clusters; give the stand-in the shape ECS uses, in policies and requests alike. */
const clusterStandIn = resolver.getAtt('acme-Platform', clusterId, 'Arn');
const clusterArn = `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/${resolver.ref('acme-Platform', clusterId)}`;
const executionRoleArn = resolver.getAtt(
  'acme-Platform',
  platformResource('AWS::IAM::Role').find((id) => id.startsWith('TaskExecutionRole'))!,
  'Arn',
);

function principalOf(name: FunctionName): SimulatedPrincipal {
  return exampleControlPlane().principalOf(name, (text) => text.split(clusterStandIn).join(clusterArn));
}

const ROLES: Record<FunctionName, SimulatedPrincipal> = {
  api: principalOf('api'),
  credentials: principalOf('credentials'),
  'task-events': principalOf('task-events'),
  reaper: principalOf('reaper'),
  'directory-sync': principalOf('directory-sync'),
  'relay-device': principalOf('relay-device'),
  'relay-runtime': principalOf('relay-runtime'),
  'relay-fanout': principalOf('relay-fanout'),
  launcher: principalOf('launcher'),
  'audit-archive': principalOf('audit-archive'),
  'scheduled-run': principalOf('scheduled-run'),
};

const ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:DeleteTable',
  'dynamodb:UpdateTable',
] as const;

/** The relay's own rows (connections, subscriptions, frame sequences): the only deletes anywhere. */
const CONNECTION_ROWS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
];

/** What each role may do on each table, written out. */
const EXPECTED: Record<FunctionName, Partial<Record<TableName, readonly string[]>>> = {
  api: {
    sessions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
    inbox: ['dynamodb:PutItem'],
    events: ['dynamodb:PutItem', 'dynamodb:Query'],
    approvals: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
    idempotency: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    // Read only: the budget gate and GET /v1/usage; nothing the API does adds to a counter.
    usage: ['dynamodb:GetItem'],
  },
  'scheduled-run': {
    sessions: ['dynamodb:UpdateItem'],
    inbox: ['dynamodb:PutItem'],
    events: ['dynamodb:PutItem', 'dynamodb:Query'],
    idempotency: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    usage: ['dynamodb:GetItem'],
  },
  credentials: { events: ['dynamodb:PutItem', 'dynamodb:Query'] },
  'task-events': { sessions: ['dynamodb:UpdateItem'], events: ['dynamodb:PutItem', 'dynamodb:Query'] },
  reaper: { sessions: ['dynamodb:UpdateItem'], events: ['dynamodb:PutItem', 'dynamodb:Query'] },
  'directory-sync': {},
  'relay-device': { events: ['dynamodb:Query'], connections: CONNECTION_ROWS },
  'relay-runtime': {
    sessions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    inbox: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    events: ['dynamodb:PutItem', 'dynamodb:Query'],
    approvals: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    connections: CONNECTION_ROWS,
    // The only writer of the counters (a runtime's usage events), which it also reads to hold an inbox.
    usage: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
  },
  'relay-fanout': { events: ['dynamodb:Query'], connections: CONNECTION_ROWS },
  launcher: { sessions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], events: ['dynamodb:PutItem', 'dynamodb:Query'] },
  // The audit archive reads the Events stream only: no item of any table.
  'audit-archive': {},
};

const simulator = new IamSimulator();
const decide = async (request: SimulatedRequest) =>
  (await simulator.evaluate(request)) === 'Allowed' ? 'Allowed' : 'Denied';

describe('control-plane roles × tables (every partition, every item action)', () => {
  it("each role has exactly its listed actions on each table, and Scan, table changes and deletes (but the relay's Connections rows) on none", async () => {
    const mismatches: string[] = [];
    let evaluations = 0;
    for (const [name, principal] of Object.entries(ROLES) as [FunctionName, SimulatedPrincipal][]) {
      for (const table of Object.keys(TABLES) as TableName[]) {
        for (const action of ITEM_ACTIONS) {
          const expected = EXPECTED[name][table]?.includes(action) ? 'Allowed' : 'Denied';
          const actual = await decide({
            principal,
            action,
            resource: model.tables[table].arn,
            resourceAccount: ACCOUNT,
            // A write names at least the item's key (write-attributes.test.ts holds the attribute lists).
            context: { 'dynamodb:Attributes': 'sortKey' in TABLES[table] ? ['pk', 'sk'] : ['pk'] },
          });
          evaluations += 1;
          if (actual !== expected) mismatches.push(`${name} ${action} ${table}: expected ${expected}, got ${actual}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(evaluations).toBe(Object.keys(ROLES).length * Object.keys(TABLES).length * ITEM_ACTIONS.length);
    expect(Object.keys(ROLES)).toHaveLength(11);
  });

  it('only the reaper queries the active index; nobody queries another index or scans it', async () => {
    const index = `${model.tables.sessions.arn}/index/active`;
    for (const [name, principal] of Object.entries(ROLES) as [FunctionName, SimulatedPrincipal][]) {
      expect(
        await decide({ principal, action: 'dynamodb:Query', resource: index, resourceAccount: ACCOUNT }),
        name,
      ).toBe(name === 'reaper' ? 'Allowed' : 'Denied');
      expect(
        await decide({ principal, action: 'dynamodb:Scan', resource: index, resourceAccount: ACCOUNT }),
        name,
      ).toBe('Denied');
      expect(
        await decide({
          principal,
          action: 'dynamodb:Query',
          resource: `${model.tables.sessions.arn}/index/other`,
          resourceAccount: ACCOUNT,
        }),
        name,
      ).toBe('Denied');
    }
  });
});

describe("control-plane roles × the fleet's secrets and user keys", () => {
  it('the credential writer may PutSecretValue into every user secret and read none; no other role touches them', async () => {
    expect(model.secrets.length).toBeGreaterThan(5);
    const mismatches: string[] = [];
    for (const [name, principal] of Object.entries(ROLES) as [FunctionName, SimulatedPrincipal][]) {
      for (const secret of model.secrets) {
        const request = {
          principal,
          resource: secret.arn,
          resourceAccount: ACCOUNT,
          resourcePolicy: secret.resourcePolicy,
        };
        const put = await decide({ ...request, action: 'secretsmanager:PutSecretValue' });
        if (put !== (name === 'credentials' ? 'Allowed' : 'Denied'))
          mismatches.push(`${name} PutSecretValue ${secret.name}: ${put}`);
        for (const action of [
          'secretsmanager:GetSecretValue',
          'secretsmanager:DeleteSecret',
          'secretsmanager:PutResourcePolicy',
        ]) {
          const decision = await decide({ ...request, action });
          if (decision !== 'Denied') mismatches.push(`${name} ${action} ${secret.name}: ${decision}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it("the credential writer may have each user's key encrypt its secrets via Secrets Manager, and decrypt nothing directly", async () => {
    const mismatches: string[] = [];
    for (const secret of model.secrets) {
      const viaSecretsManager = {
        'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`,
        'kms:EncryptionContext:SecretARN': secret.arn,
        'kms:CallerAccount': ACCOUNT,
        'kms:ResourceAliases': `alias/cubicle/acme/${secret.userId}`,
      };
      const request = {
        principal: ROLES.credentials,
        resource: secret.keyArn,
        resourceAccount: ACCOUNT,
        resourcePolicy: secret.keyPolicy,
      };
      const generate = await decide({ ...request, action: 'kms:GenerateDataKey', context: viaSecretsManager });
      if (generate !== 'Allowed') mismatches.push(`GenerateDataKey via Secrets Manager ${secret.name}: ${generate}`);
      const direct = await decide({
        ...request,
        action: 'kms:GenerateDataKey',
        context: { ...viaSecretsManager, 'kms:ViaService': undefined },
      });
      if (direct !== 'Denied') mismatches.push(`GenerateDataKey directly ${secret.name}: ${direct}`);
      const otherKey = await decide({
        ...request,
        action: 'kms:GenerateDataKey',
        context: { ...viaSecretsManager, 'kms:ResourceAliases': 'alias/other' },
      });
      if (otherKey !== 'Denied')
        mismatches.push(`GenerateDataKey with a key outside the deployment ${secret.name}: ${otherKey}`);
      const decrypt = await decide({ ...request, action: 'kms:Decrypt', context: viaSecretsManager });
      if (decrypt !== 'Denied') mismatches.push(`writer Decrypt ${secret.name}: ${decrypt}`);
      for (const name of ['api', 'task-events', 'reaper', 'launcher'] as const) {
        const other = await decide({
          ...request,
          principal: ROLES[name],
          action: 'kms:Decrypt',
          context: viaSecretsManager,
        });
        if (other !== 'Denied') mismatches.push(`${name} Decrypt ${secret.name}: ${other}`);
      }
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
  });
});

describe('control-plane roles × ECS and PassRole', () => {
  const launchers = ['launcher'] as const;
  const wakers = ['api', 'task-events', 'reaper'] as const;
  const family = (user: string, agent: string) =>
    `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/acme-${user}_${agent}:7`;
  const agentRole = (user: string, agent: string) =>
    `arn:aws:iam::${ACCOUNT}:role/cubicle/acme/agents/acme-${user}-${agent}`;
  const task = `arn:aws:ecs:${REGION}:${ACCOUNT}:task/cluster/0123456789abcdef`;
  const pair = { user: config.users[0].id, agent: config.users[0].agents[0].id };

  it.each(launchers)("%s runs this deployment's families only in the Cubicle cluster", async (name) => {
    const principal = ROLES[name];
    const run = (resource: string, cluster: string | undefined) =>
      decide({
        principal,
        action: 'ecs:RunTask',
        resource,
        resourceAccount: ACCOUNT,
        context: { 'ecs:cluster': cluster },
      });
    expect(await run(family(pair.user, pair.agent), clusterArn)).toBe('Allowed');
    expect(await run(family(pair.user, pair.agent), `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/other`)).toBe('Denied');
    expect(await run(family(pair.user, pair.agent), undefined)).toBe('Denied');
    expect(await run(`arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/other-alice_sales:1`, clusterArn)).toBe(
      'Denied',
    );
  });

  it.each(launchers)('%s passes agent roles and the execution role to ECS tasks only', async (name) => {
    const principal = ROLES[name];
    const pass = (resource: string, service: string | undefined) =>
      decide({
        principal,
        action: 'iam:PassRole',
        resource,
        resourceAccount: ACCOUNT,
        context: { 'iam:PassedToService': service },
      });
    expect(await pass(agentRole(pair.user, pair.agent), 'ecs-tasks.amazonaws.com')).toBe('Allowed');
    expect(await pass(executionRoleArn, 'ecs-tasks.amazonaws.com')).toBe('Allowed');
    expect(await pass(agentRole(pair.user, pair.agent), 'lambda.amazonaws.com')).toBe('Denied');
    expect(await pass(agentRole(pair.user, pair.agent), undefined)).toBe('Denied');
    expect(await pass(`arn:aws:iam::${ACCOUNT}:role/cubicle/other/agents/x`, 'ecs-tasks.amazonaws.com')).toBe('Denied');
    expect(await pass(ROLES.credentials.arn, 'ecs-tasks.amazonaws.com')).toBe('Denied');
  });

  it.each(wakers)(
    '%s (internet-facing or woken by events) starts no task and passes no role: it invokes the launcher',
    async (name) => {
      const principal = ROLES[name];
      const request = (action: string, resource: string, context: Record<string, string | undefined> = {}) =>
        decide({ principal, action, resource, resourceAccount: ACCOUNT, context });
      expect(await request('ecs:RunTask', family(pair.user, pair.agent), { 'ecs:cluster': clusterArn })).toBe('Denied');
      expect(await request('ecs:StartTask', family(pair.user, pair.agent), { 'ecs:cluster': clusterArn })).toBe(
        'Denied',
      );
      expect(
        await request('iam:PassRole', agentRole(pair.user, pair.agent), {
          'iam:PassedToService': 'ecs-tasks.amazonaws.com',
        }),
      ).toBe('Denied');
      expect(
        await request('iam:PassRole', executionRoleArn, { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' }),
      ).toBe('Denied');
      expect(await request('ecs:TagResource', task, { 'ecs:CreateAction': 'RunTask' })).toBe('Denied');
      const launcherFunction = resolver.getAtt(STACK, functionOf(json, 'launcher').id, 'Arn');
      expect(await request('lambda:InvokeFunction', launcherFunction)).toBe('Allowed');
      expect(
        await request('lambda:InvokeFunction', resolver.getAtt(STACK, functionOf(json, 'credentials').id, 'Arn')),
      ).toBe('Denied');
    },
  );

  it('scheduled-run wakes through the launcher only: no RunTask, no PassRole, no StopTask, no other function', async () => {
    const principal = ROLES['scheduled-run'];
    const request = (action: string, resource: string, context: Record<string, string | undefined> = {}) =>
      decide({ principal, action, resource, resourceAccount: ACCOUNT, context });
    expect(await request('ecs:RunTask', family(pair.user, pair.agent), { 'ecs:cluster': clusterArn })).toBe('Denied');
    expect(
      await request('iam:PassRole', agentRole(pair.user, pair.agent), {
        'iam:PassedToService': 'ecs-tasks.amazonaws.com',
      }),
    ).toBe('Denied');
    expect(await request('ecs:StopTask', task, { 'ecs:cluster': clusterArn })).toBe('Denied');
    expect(await request('lambda:InvokeFunction', resolver.getAtt(STACK, functionOf(json, 'launcher').id, 'Arn'))).toBe(
      'Allowed',
    );
    for (const other of ['api', 'credentials', 'reaper'] as const) {
      expect(
        await request('lambda:InvokeFunction', resolver.getAtt(STACK, functionOf(json, other).id, 'Arn')),
        other,
      ).toBe('Denied');
    }
    // Its own name: it cannot call itself (a schedule cannot fan out).
    expect(
      await request('lambda:InvokeFunction', resolver.getAtt(STACK, functionOf(json, 'scheduled-run').id, 'Arn')),
    ).toBe('Denied');
  });

  it.each([...launchers, ...wakers])(
    '%s stops tasks of the Cubicle cluster only; only the launcher tags, when RunTask creates',
    async (name) => {
      const principal = ROLES[name];
      const request = (action: string, context: Record<string, string | undefined>) =>
        decide({ principal, action, resource: task, resourceAccount: ACCOUNT, context });
      expect(await request('ecs:StopTask', { 'ecs:cluster': clusterArn })).toBe('Allowed');
      expect(await request('ecs:StopTask', { 'ecs:cluster': `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/other` })).toBe(
        'Denied',
      );
      expect(await request('ecs:TagResource', { 'ecs:CreateAction': 'RunTask' })).toBe(
        name === 'launcher' ? 'Allowed' : 'Denied',
      );
      expect(await request('ecs:TagResource', { 'ecs:CreateAction': undefined })).toBe('Denied');
      expect(await request('ecs:DescribeTasks', { 'ecs:cluster': clusterArn })).toBe(
        name === 'reaper' ? 'Allowed' : 'Denied',
      );
    },
  );

  it('only the reaper lists tasks, and only in the Cubicle cluster; the credential writer has no ECS rights', async () => {
    const list = (name: FunctionName, cluster: string) =>
      decide({
        principal: ROLES[name],
        action: 'ecs:ListTasks',
        resource: '*',
        resourceAccount: ACCOUNT,
        context: { 'ecs:cluster': cluster },
      });
    expect(await list('reaper', clusterArn)).toBe('Allowed');
    expect(await list('reaper', `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/other`)).toBe('Denied');
    expect(await list('api', clusterArn)).toBe('Denied');
    for (const action of ['ecs:RunTask', 'ecs:StopTask', 'iam:PassRole']) {
      expect(
        await decide({
          principal: ROLES.credentials,
          action,
          resource: task,
          resourceAccount: ACCOUNT,
          context: { 'ecs:cluster': clusterArn },
        }),
        action,
      ).toBe('Denied');
    }
  });
});
