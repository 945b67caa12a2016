import { describe, expect, it } from 'vitest';
import { UserConfig, RosterAgentConfig } from '../../lib/config/schema';
import { readTemplates } from '../support/assembly';
import { CfnResolver } from '../support/cfn-intrinsics';
import { Decision, IamSimulator, SimulatedPrincipal } from '../support/iam-simulator';
import { rosterConfig } from '../support/roster';
import { synthesize } from '../support/synth';
import { readFleetModel, RoleModel, SecretModel } from './fleet-model';
import { ACCOUNT } from '../support/account';

/**
 * The isolation matrix (claims 2, 3, 5, 6, docs/isolation-claims.md): from the synthesized templates of a 20 users × 3 agents
 * roster spread over several shards, every pair's task role is evaluated by a real IAM evaluator against
 * every pair's secrets, keys, access points and table partitions. Expected results come from the roster
 * alone: a pair may reach exactly what its own config names. Nothing is sampled or skipped; the number
 * of evaluations is asserted.
 *
 * Per request, the evaluator sees the role's identity policy together with the resource's policy
 * (secret resource policy, key policy, file system policy), as AWS would.
 */

const config = rosterConfig({ users: 20, agentsPerUser: 3, maxResourcesPerShard: 120 });
const REGION = config.region;
const synthesized = synthesize(config);
const templates = readTemplates(synthesized.outdir);
const resolver = new CfnResolver(templates, {
  account: ACCOUNT,
  regionOf: (stack) => (stack.endsWith('-Edge') ? 'us-east-1' : REGION),
});
const model = readFleetModel({ resolver, templates, deployment: config.name, account: ACCOUNT });
const pairs = config.users.flatMap((user) => user.agents.map((agent) => ({ user, agent })));

/**
 * The runtime's rights per table, written out here so the matrix does not trust the code it checks:
 * none. Every row a runtime needs is read or written by the relay for it (runtime/relay/runtime-rows.ts).
 */
const EXPECTED_TABLE_ACTIONS: Record<string, readonly string[]> = {
  sessions: [],
  inbox: [],
  events: [],
  approvals: [],
  connections: [],
  idempotency: [],
  usage: [],
};
const MATRIX_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'];

/** Fields only the control plane may write, per table, written out here rather than read from the code. */
const CONTROL_PLANE_FIELDS: Record<string, readonly string[]> = {
  sessions: ['status', 'deadlineAt', 'sessionId', 'startedAt', 'version', 'activeShard'],
  inbox: ['body', 'requestId', 'createdAt'],
  approvals: ['decision', 'decidedAt', 'decidedBy'],
};
/** A field each table's runtime writes (heartbeat, message state, approval expiry; events are whole rows). */
const RUNTIME_FIELD: Record<string, string> = {
  sessions: 'lastActivityAt',
  inbox: 'state',
  approvals: 'expiredAt',
  events: 'hash',
  connections: 'cursor',
  idempotency: 'answer',
  // A runtime must not be able to lower its own spend: the relay adds usage for it.
  usage: 'costMicroUsd',
};
/** Key attributes of each table's rows (Sessions has one row per pair, no sort key). */
const keyAttributes = (table: string) => (table === 'sessions' ? ['pk'] : ['pk', 'sk']);

/** Request context of a call on a partition; writes name the attributes they touch, as DynamoDB reports them. */
function rowContext(table: string, action: string, pk: string): Record<string, string[]> {
  const writes = action === 'dynamodb:PutItem' || action === 'dynamodb:UpdateItem';
  return {
    'dynamodb:LeadingKeys': [pk],
    ...(writes ? { 'dynamodb:Attributes': [...keyAttributes(table), RUNTIME_FIELD[table]] } : {}),
  };
}

/** Whether a pair's config gives it a secret: its provider's credential, or a listed connection's. */
function reads(user: UserConfig, agent: RosterAgentConfig, secret: SecretModel): boolean {
  if (secret.userId !== user.id) return false;
  if (secret.kind === 'provider') return agent.provider === secret.id;
  return agent.connections.includes(secret.id) && config.connections[secret.id]?.secret === true;
}

const allowedIf = (condition: boolean): 'Allowed' | 'Denied' => (condition ? 'Allowed' : 'Denied');
const outcome = (decision: Decision) => (decision === 'Allowed' ? 'Allowed' : 'Denied');

class Matrix {
  readonly simulator = new IamSimulator();
  readonly mismatches: string[] = [];

  async check(
    label: string,
    expected: 'Allowed' | 'Denied',
    request: Parameters<IamSimulator['evaluate']>[0],
  ): Promise<void> {
    const actual = outcome(await this.simulator.evaluate(request));
    if (actual !== expected) this.mismatches.push(`${label}: expected ${expected}, got ${actual}`);
  }
}

const viaSecretsManager = (secret: SecretModel) => ({
  'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`,
  'kms:EncryptionContext:SecretARN': secret.arn,
  'kms:CallerAccount': ACCOUNT,
});

describe('the roster under test', () => {
  it('has 20 users × 3 agents, spread over several shards', () => {
    expect(pairs).toHaveLength(60);
    const shards = new Set(model.roles.map((r) => r.stack));
    expect(shards.size).toBeGreaterThanOrEqual(3);
  });

  it('has one task role and one access point per pair, and exactly the secrets the roster implies', () => {
    const pairIds = pairs.map(({ user, agent }) => `${user.id}#${agent.id}`).sort();
    expect(model.roles.map((r) => `${r.userId}#${r.agentId}`).sort()).toEqual(pairIds);
    expect(model.accessPoints.map((a) => `${a.userId}#${a.agentId}`).sort()).toEqual(pairIds);
    const expectedSecrets = new Set<string>();
    for (const { user, agent } of pairs) {
      if (agent.provider !== 'bedrock') expectedSecrets.add(`cubicle/acme/${user.id}/provider/${agent.provider}`);
      for (const c of agent.connections)
        if (config.connections[c].secret) expectedSecrets.add(`cubicle/acme/${user.id}/connection/${c}`);
    }
    expect(model.secrets.map((s) => s.name).sort()).toEqual([...expectedSecrets].sort());
    expect(model.secrets.every((s) => s.keyUserTag === s.userId)).toBe(true);
    expect(Object.keys(model.tables).sort()).toEqual([
      'approvals',
      'connections',
      'events',
      'idempotency',
      'inbox',
      'sessions',
      'usage',
    ]);
  });
});

describe('isolation matrix', () => {
  it('secrets: each role reads exactly the secrets its config names (GetSecretValue)', async () => {
    const matrix = new Matrix();
    for (const role of model.roles) {
      const { user, agent } = pairOf(role);
      for (const secret of model.secrets) {
        await matrix.check(
          `${role.userId}/${role.agentId} GetSecretValue ${secret.name}`,
          allowedIf(reads(user, agent, secret)),
          {
            principal: role.principal,
            action: 'secretsmanager:GetSecretValue',
            resource: secret.arn,
            resourceAccount: ACCOUNT,
            resourcePolicy: secret.resourcePolicy,
          },
        );
      }
    }
    expect(matrix.mismatches.slice(0, 20)).toEqual([]);
    expect(matrix.simulator.evaluations).toBe(60 * model.secrets.length);
  });

  it('keys: each role decrypts, via Secrets Manager, exactly its own secrets (kms:Decrypt with the secret ARN as context)', async () => {
    const matrix = new Matrix();
    let missingContext = 0;
    for (const role of model.roles) {
      const { user, agent } = pairOf(role);
      for (const secret of model.secrets) {
        const own = reads(user, agent, secret);
        const request = {
          principal: role.principal,
          action: 'kms:Decrypt',
          resource: secret.keyArn,
          resourceAccount: ACCOUNT,
          resourcePolicy: secret.keyPolicy,
        };
        const label = `${role.userId}/${role.agentId} Decrypt ${secret.name}`;
        await matrix.check(label, allowedIf(own), { ...request, context: viaSecretsManager(secret) });
        if (!own) continue;
        // Its own secret, but not through Secrets Manager, or without (or with another) encryption context.
        await matrix.check(`${label} without kms:ViaService`, 'Denied', {
          ...request,
          context: { ...viaSecretsManager(secret), 'kms:ViaService': undefined },
        });
        await matrix.check(`${label} via another service`, 'Denied', {
          ...request,
          context: { ...viaSecretsManager(secret), 'kms:ViaService': `s3.${REGION}.amazonaws.com` },
        });
        await matrix.check(`${label} without encryption context`, 'Denied', {
          ...request,
          context: { ...viaSecretsManager(secret), 'kms:EncryptionContext:SecretARN': undefined },
        });
        missingContext += 3;
      }
    }
    expect(matrix.mismatches.slice(0, 20)).toEqual([]);
    expect(matrix.simulator.evaluations).toBe(60 * model.secrets.length + missingContext);
    expect(missingContext).toBe(
      3 * pairs.reduce((n, { user, agent }) => n + model.secrets.filter((s) => reads(user, agent, s)).length, 0),
    );
  });

  it('storage: each role mounts and writes through its own access point only (ClientMount/ClientWrite with AccessPointArn)', async () => {
    const matrix = new Matrix();
    for (const role of model.roles) {
      for (const ap of model.accessPoints) {
        const own = ap.userId === role.userId && ap.agentId === role.agentId;
        for (const action of ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite']) {
          await matrix.check(`${role.userId}/${role.agentId} ${action} ${ap.userId}/${ap.agentId}`, allowedIf(own), {
            principal: role.principal,
            action,
            resource: ap.fileSystemArn,
            resourceAccount: ACCOUNT,
            resourcePolicy: ap.fileSystemPolicy,
            context: { 'elasticfilesystem:AccessPointArn': ap.arn, 'elasticfilesystem:AccessedViaMountTarget': 'true' },
          });
        }
        if (!own) continue;
        const request = {
          principal: role.principal,
          resource: ap.fileSystemArn,
          resourceAccount: ACCOUNT,
          resourcePolicy: ap.fileSystemPolicy,
        };
        const label = `${role.userId}/${role.agentId} own access point`;
        await matrix.check(`${label}: mount without an access point`, 'Denied', {
          ...request,
          action: 'elasticfilesystem:ClientMount',
        });
        await matrix.check(`${label}: mount without TLS`, 'Denied', {
          ...request,
          action: 'elasticfilesystem:ClientMount',
          context: { 'elasticfilesystem:AccessPointArn': ap.arn, 'aws:SecureTransport': 'false' },
        });
        await matrix.check(`${label}: root access`, 'Denied', {
          ...request,
          action: 'elasticfilesystem:ClientRootAccess',
          context: { 'elasticfilesystem:AccessPointArn': ap.arn },
        });
      }
    }
    expect(matrix.mismatches.slice(0, 20)).toEqual([]);
    expect(matrix.simulator.evaluations).toBe(60 * 60 * 2 + 60 * 3);
  });

  it('rows: no role reads or writes any partition, its own included (GetItem/PutItem/Query with dynamodb:LeadingKeys)', async () => {
    const matrix = new Matrix();
    for (const role of model.roles) {
      for (const { user, agent } of pairs) {
        const own = user.id === role.userId && agent.id === role.agentId;
        for (const [table, { arn }] of Object.entries(model.tables)) {
          for (const action of MATRIX_TABLE_ACTIONS) {
            await matrix.check(
              `${role.userId}/${role.agentId} ${action} ${table} ${user.id}#${agent.id}`,
              allowedIf(own && EXPECTED_TABLE_ACTIONS[table].includes(action)),
              {
                principal: role.principal,
                action,
                resource: arn,
                resourceAccount: ACCOUNT,
                context: rowContext(table, action, `${user.id}#${agent.id}`),
              },
            );
          }
        }
      }
    }
    expect(matrix.mismatches.slice(0, 20)).toEqual([]);
    expect(matrix.simulator.evaluations).toBe(60 * 60 * 7 * MATRIX_TABLE_ACTIONS.length);
  });

  it('rows: on its own partition, a role has no table action at all, with or without a partition key', async () => {
    const matrix = new Matrix();
    const actions = [
      'GetItem',
      'PutItem',
      'Query',
      'UpdateItem',
      'DeleteItem',
      'Scan',
      'BatchGetItem',
      'BatchWriteItem',
      'ConditionCheckItem',
      'PartiQLSelect',
    ].map((a) => `dynamodb:${a}`);
    for (const role of model.roles) {
      const pk = `${role.userId}#${role.agentId}`;
      for (const [table, { arn }] of Object.entries(model.tables)) {
        for (const action of actions) {
          const request = { principal: role.principal, action, resource: arn, resourceAccount: ACCOUNT };
          await matrix.check(`${pk} ${action} ${table}`, allowedIf(EXPECTED_TABLE_ACTIONS[table].includes(action)), {
            ...request,
            context: rowContext(table, action, pk),
          });
          await matrix.check(`${pk} ${action} ${table} without dynamodb:LeadingKeys`, 'Denied', request);
          // A request naming its own and another partition (BatchGetItem-style) is not its own.
          await matrix.check(`${pk} ${action} ${table} with a second partition`, 'Denied', {
            ...request,
            context: { ...rowContext(table, action, pk), 'dynamodb:LeadingKeys': [pk, 'someone#else'] },
          });
        }
      }
    }
    expect(matrix.mismatches.slice(0, 20)).toEqual([]);
    expect(matrix.simulator.evaluations).toBe(60 * 7 * actions.length * 3);
  });

  it('rows: no runtime role can write Events or Approvals (or any table) at all, whatever the fields: the relay writes for it', async () => {
    const matrix = new Matrix();
    const writes = [
      'PutItem',
      'UpdateItem',
      'DeleteItem',
      'BatchWriteItem',
      'TransactWriteItems',
      'PartiQLInsert',
      'PartiQLUpdate',
    ].map((a) => `dynamodb:${a}`);
    for (const role of model.roles) {
      const pk = `${role.userId}#${role.agentId}`;
      for (const [table, { arn }] of Object.entries(model.tables)) {
        for (const action of writes) {
          const request = { principal: role.principal, action, resource: arn, resourceAccount: ACCOUNT };
          for (const fields of [[RUNTIME_FIELD[table]], [...(CONTROL_PLANE_FIELDS[table] ?? [])]]) {
            await matrix.check(`${pk} ${action} ${table} ${fields.join(',')}`, 'Denied', {
              ...request,
              context: { 'dynamodb:LeadingKeys': [pk], 'dynamodb:Attributes': [...keyAttributes(table), ...fields] },
            });
          }
        }
      }
    }
    expect(matrix.mismatches.slice(0, 20)).toEqual([]);
    expect(matrix.simulator.evaluations).toBe(60 * 7 * writes.length * 2);
  });

  it('relay: each role may open the runtime relay ($connect) and nothing else of either relay API; no role may post to or close any connection', async () => {
    const matrix = new Matrix();
    const apis = relayApis();
    const execute = (api: string, tail: string) => `arn:aws:execute-api:${REGION}:${ACCOUNT}:${api}/${tail}`;
    for (const role of model.roles) {
      const label = `${role.userId}/${role.agentId}`;
      const at = (action: string, resource: string) => ({
        principal: role.principal,
        action,
        resource,
        resourceAccount: ACCOUNT,
      });
      // iam-simulate's validation does not know WebSocket route ARNs (`api/stage/route`): the role's
      // policy is validated on a request it knows first; the route requests then use the same engine.
      await matrix.check(`${label} GetItem sessions`, 'Denied', {
        ...at('dynamodb:GetItem', model.tables.sessions.arn),
        context: rowContext('sessions', 'dynamodb:GetItem', `${role.userId}#${role.agentId}`),
      });
      await matrix.check(
        `${label} Invoke runtime $connect`,
        'Allowed',
        at('execute-api:Invoke', execute(apis.runtime, 'runtime/$connect')),
      );
      for (const [what, resource] of [
        ['runtime $default', execute(apis.runtime, 'runtime/$default')],
        ['runtime $connect of another stage', execute(apis.runtime, 'other/$connect')],
        ['device $connect', execute(apis.device, 'relay/$connect')],
        ['device $default', execute(apis.device, 'relay/$default')],
      ]) {
        await matrix.check(`${label} Invoke ${what}`, 'Denied', at('execute-api:Invoke', resource));
      }
      for (const api of [apis.runtime, apis.device]) {
        const stage = api === apis.runtime ? 'runtime' : 'relay';
        for (const method of ['POST', 'DELETE', 'GET']) {
          await matrix.check(
            `${label} ManageConnections ${method} ${stage}`,
            'Denied',
            at('execute-api:ManageConnections', execute(api, `${stage}/${method}/@connections/some-connection`)),
          );
        }
      }
    }
    expect(matrix.mismatches.slice(0, 20)).toEqual([]);
    expect(matrix.simulator.evaluations).toBe(60 * (1 + 1 + 4 + 6));
  });

  it('an account administrator (Action "*" on "*") cannot read, decrypt or write a token, or mount as root, without changing a policy', async () => {
    const matrix = new Matrix();
    const admin: SimulatedPrincipal = {
      arn: `arn:aws:iam::${ACCOUNT}:role/Admin`,
      accountId: ACCOUNT,
      identityPolicies: [
        {
          name: 'AdministratorAccess',
          policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
        },
      ],
    };
    for (const secret of model.secrets) {
      const onSecret = {
        principal: admin,
        resource: secret.arn,
        resourceAccount: ACCOUNT,
        resourcePolicy: secret.resourcePolicy,
      };
      await matrix.check(`admin GetSecretValue ${secret.name}`, 'Denied', {
        ...onSecret,
        action: 'secretsmanager:GetSecretValue',
      });
      await matrix.check(`admin PutSecretValue ${secret.name}`, 'Denied', {
        ...onSecret,
        action: 'secretsmanager:PutSecretValue',
      });
      const onKey = {
        principal: admin,
        resource: secret.keyArn,
        resourceAccount: ACCOUNT,
        resourcePolicy: secret.keyPolicy,
      };
      await matrix.check(`admin Decrypt ${secret.name}`, 'Denied', {
        ...onKey,
        action: 'kms:Decrypt',
        context: viaSecretsManager(secret),
      });
      await matrix.check(`admin GenerateDataKey ${secret.name}`, 'Denied', {
        ...onKey,
        action: 'kms:GenerateDataKey',
        context: viaSecretsManager(secret),
      });
      // What the admin may do is administer: read the key policy, schedule the key's deletion (crypto-shredding).
      await matrix.check(`admin ScheduleKeyDeletion ${secret.name}`, 'Allowed', {
        ...onKey,
        action: 'kms:ScheduleKeyDeletion',
      });
    }
    for (const ap of model.accessPoints) {
      const request = {
        principal: admin,
        resource: ap.fileSystemArn,
        resourceAccount: ACCOUNT,
        resourcePolicy: ap.fileSystemPolicy,
      };
      await matrix.check(`admin root access via ${ap.userId}/${ap.agentId}`, 'Denied', {
        ...request,
        action: 'elasticfilesystem:ClientRootAccess',
        context: { 'elasticfilesystem:AccessPointArn': ap.arn },
      });
    }
    expect(matrix.mismatches.slice(0, 20)).toEqual([]);
    expect(matrix.simulator.evaluations).toBe(model.secrets.length * 5 + model.accessPoints.length);
  });

  it('the credential writer may write every secret and encrypt it via Secrets Manager, and never read or decrypt', async () => {
    const matrix = new Matrix();
    const writer: SimulatedPrincipal = {
      arn: `arn:aws:iam::${ACCOUNT}:role/acme-credential-writer`,
      accountId: ACCOUNT,
      identityPolicies: [
        {
          name: 'writer',
          policy: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: ['secretsmanager:PutSecretValue', 'secretsmanager:GetSecretValue'],
                Resource: '*',
              },
              { Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Encrypt', 'kms:Decrypt'], Resource: '*' },
            ],
          },
        },
      ],
    };
    for (const secret of model.secrets) {
      const onSecret = {
        principal: writer,
        resource: secret.arn,
        resourceAccount: ACCOUNT,
        resourcePolicy: secret.resourcePolicy,
      };
      const onKey = {
        principal: writer,
        resource: secret.keyArn,
        resourceAccount: ACCOUNT,
        resourcePolicy: secret.keyPolicy,
      };
      await matrix.check(`writer PutSecretValue ${secret.name}`, 'Allowed', {
        ...onSecret,
        action: 'secretsmanager:PutSecretValue',
      });
      await matrix.check(`writer GenerateDataKey ${secret.name}`, 'Allowed', {
        ...onKey,
        action: 'kms:GenerateDataKey',
        context: viaSecretsManager(secret),
      });
      await matrix.check(`writer GenerateDataKey ${secret.name} directly`, 'Denied', {
        ...onKey,
        action: 'kms:GenerateDataKey',
        context: { ...viaSecretsManager(secret), 'kms:ViaService': undefined },
      });
      await matrix.check(`writer GetSecretValue ${secret.name}`, 'Denied', {
        ...onSecret,
        action: 'secretsmanager:GetSecretValue',
      });
      await matrix.check(`writer Decrypt ${secret.name}`, 'Denied', {
        ...onKey,
        action: 'kms:Decrypt',
        context: viaSecretsManager(secret),
      });
      // Another user's key never encrypts this user's secrets.
      const other = model.secrets.find((s) => s.userId !== secret.userId)!;
      await matrix.check(`writer GenerateDataKey ${secret.name} under ${other.userId}'s key`, 'Denied', {
        ...onKey,
        resource: other.keyArn,
        resourcePolicy: other.keyPolicy,
        action: 'kms:GenerateDataKey',
        context: viaSecretsManager(secret),
      });
    }
    expect(matrix.mismatches.slice(0, 20)).toEqual([]);
    expect(matrix.simulator.evaluations).toBe(model.secrets.length * 6);
  });
});

describe('isolation matrix: records under user keys, the account administrator, and roles created again (issue 13)', () => {
  const records = (userId: string, agentId: string, record = 'inbox.body') => ({
    'kms:EncryptionContext:user_id': userId,
    'kms:EncryptionContext:agent_id': agentId,
    'kms:EncryptionContext:record': record,
    'kms:EncryptionContextKeys': ['user_id', 'agent_id', 'record'],
    'kms:CallerAccount': ACCOUNT,
  });
  const anything: SimulatedPrincipal['identityPolicies'] = [
    {
      name: 'AdministratorAccess',
      policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
    },
  ];
  const role = (name: string, identityPolicies = anything): SimulatedPrincipal => ({
    arn: `arn:aws:iam::${ACCOUNT}:role/${name}`,
    accountId: ACCOUNT,
    userId: `AROA${name
      .replace(/[^A-Za-z0-9]/g, '')
      .toUpperCase()
      .padEnd(17, 'X')
      .slice(0, 17)}:session`,
    identityPolicies,
  });
  /** What ReadOnlyAccess grants that matters here, and kms:Decrypt on top (worst case: a broader read-only policy). */
  const readOnly = role('ReadOnly', [
    {
      name: 'ReadOnlyAccess',
      policy: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: [
              'dynamodb:GetItem',
              'dynamodb:Query',
              'dynamodb:Scan',
              'kms:Describe*',
              'kms:Get*',
              'kms:List*',
              'kms:Decrypt',
              'secretsmanager:Describe*',
              'secretsmanager:GetResourcePolicy',
            ],
            Resource: '*',
          },
        ],
      },
    },
  ]);

  it("each agent role opens its own pair's records, under its own user's key only, and nothing else's", async () => {
    const matrix = new Matrix();
    for (const r of model.roles) {
      for (const key of model.keys) {
        const user = config.users.find((u) => u.id === key.userId)!;
        for (const agent of user.agents) {
          const own = key.userId === r.userId && agent.id === r.agentId;
          await matrix.check(`${r.userId}/${r.agentId} Decrypt records of ${key.userId}/${agent.id}`, allowedIf(own), {
            principal: r.principal,
            action: 'kms:Decrypt',
            resource: key.arn,
            resourceAccount: ACCOUNT,
            resourcePolicy: key.policy,
            context: records(key.userId, agent.id),
          });
        }
        // Under its own user's key, a context naming another user is never its own.
        if (key.userId === r.userId) {
          await matrix.check(`${r.userId}/${r.agentId} records labelled for another user`, 'Denied', {
            principal: r.principal,
            action: 'kms:Decrypt',
            resource: key.arn,
            resourceAccount: ACCOUNT,
            resourcePolicy: key.policy,
            context: records('someone-else', r.agentId),
          });
          await matrix.check(`${r.userId}/${r.agentId} GenerateDataKey for its records`, 'Denied', {
            principal: r.principal,
            action: 'kms:GenerateDataKey',
            resource: key.arn,
            resourceAccount: ACCOUNT,
            resourcePolicy: key.policy,
            context: records(r.userId, r.agentId),
          });
        }
      }
    }
    expect(matrix.mismatches.slice(0, 20)).toEqual([]);
    expect(matrix.simulator.evaluations).toBe(60 * 60 + 60 * 2);
  });

  it('a role deleted and created again under the same name (same ARN, new unique id) gets no secret, no key use, no record', async () => {
    const matrix = new Matrix();
    for (const r of model.roles) {
      const { user, agent } = pairOf(r);
      const recreated: SimulatedPrincipal = { ...r.principal, userId: `AROARECREATEDROLE0000:${r.agentId}` };
      expect(recreated.arn).toBe(r.principal.arn);
      for (const secret of model.secrets.filter((x) => reads(user, agent, x))) {
        await matrix.check(`recreated ${r.userId}/${r.agentId} GetSecretValue ${secret.name}`, 'Denied', {
          principal: recreated,
          action: 'secretsmanager:GetSecretValue',
          resource: secret.arn,
          resourceAccount: ACCOUNT,
          resourcePolicy: secret.resourcePolicy,
        });
        await matrix.check(`recreated ${r.userId}/${r.agentId} Decrypt ${secret.name}`, 'Denied', {
          principal: recreated,
          action: 'kms:Decrypt',
          resource: secret.keyArn,
          resourceAccount: ACCOUNT,
          resourcePolicy: secret.keyPolicy,
          context: viaSecretsManager(secret),
        });
        // The role that exists may (the control for the two checks above).
        await matrix.check(`${r.userId}/${r.agentId} GetSecretValue ${secret.name}`, 'Allowed', {
          principal: r.principal,
          action: 'secretsmanager:GetSecretValue',
          resource: secret.arn,
          resourceAccount: ACCOUNT,
          resourcePolicy: secret.resourcePolicy,
        });
      }
      const key = model.keys.find((k) => k.userId === r.userId)!;
      await matrix.check(`recreated ${r.userId}/${r.agentId} Decrypt its records`, 'Denied', {
        principal: recreated,
        action: 'kms:Decrypt',
        resource: key.arn,
        resourceAccount: ACCOUNT,
        resourcePolicy: key.policy,
        context: records(r.userId, r.agentId),
      });
    }
    expect(matrix.mismatches.slice(0, 20)).toEqual([]);
    expect(matrix.simulator.evaluations).toBe(
      pairs.reduce((n, { user, agent }) => n + 3 * model.secrets.filter((x) => reads(user, agent, x)).length + 1, 0),
    );
  });

  it("the account administrator and ReadOnlyAccess read the tables, but open no record and seal none, under any user's key", async () => {
    const matrix = new Matrix();
    for (const principal of [role('Admin'), readOnly]) {
      for (const key of model.keys) {
        const user = config.users.find((u) => u.id === key.userId)!;
        for (const agent of user.agents) {
          for (const action of ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom']) {
            await matrix.check(`${principal.arn} ${action} records of ${key.userId}/${agent.id}`, 'Denied', {
              principal,
              action,
              resource: key.arn,
              resourceAccount: ACCOUNT,
              resourcePolicy: key.policy,
              context: records(key.userId, agent.id),
            });
          }
        }
      }
      // What they do read: the rows, whose message text is sealed.
      await matrix.check(`${principal.arn} Query inbox`, 'Allowed', {
        principal,
        action: 'dynamodb:Query',
        resource: model.tables.inbox.arn,
        resourceAccount: ACCOUNT,
      });
    }
    expect(matrix.mismatches.slice(0, 20)).toEqual([]);
    expect(matrix.simulator.evaluations).toBe(2 * (pairs.length * 3 + 1));
  });

  it("control-plane roles: the record sealer (API) uses a user's key only for that user's agents' records; the others never", async () => {
    const matrix = new Matrix();
    const sealer = role('acme-api');
    const others = ['acme-credential-writer', 'acme-relay', 'acme-launcher', 'acme-ControlPlane-Reaper'].map((n) =>
      role(n),
    );
    for (const key of model.keys) {
      const user = config.users.find((u) => u.id === key.userId)!;
      const stranger = config.users.find((u) => u.id !== key.userId)!;
      const on = (
        principal: SimulatedPrincipal,
        action: string,
        context: Record<string, string | string[] | undefined>,
      ) => ({
        principal,
        action,
        resource: key.arn,
        resourceAccount: ACCOUNT,
        resourcePolicy: key.policy,
        context,
      });
      for (const agent of user.agents) {
        for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
          await matrix.check(
            `api ${action} ${key.userId}/${agent.id}`,
            'Allowed',
            on(sealer, action, records(key.userId, agent.id)),
          );
          for (const other of others)
            await matrix.check(
              `${other.arn} ${action} ${key.userId}/${agent.id}`,
              'Denied',
              on(other, action, records(key.userId, agent.id)),
            );
        }
      }
      const agentId = user.agents[0].id;
      // Outside the allowed context: another user's records, another user's agent, extra or missing context keys, via another service.
      await matrix.check(
        `api records of ${stranger.id} under ${key.userId}'s key`,
        'Denied',
        on(sealer, 'kms:Decrypt', records(stranger.id, stranger.agents[0].id)),
      );
      await matrix.check(
        `api an agent ${key.userId} does not have`,
        'Denied',
        on(sealer, 'kms:Decrypt', records(key.userId, 'not-an-agent')),
      );
      await matrix.check(
        `api extra context key`,
        'Denied',
        on(sealer, 'kms:Decrypt', {
          ...records(key.userId, agentId),
          'kms:EncryptionContextKeys': ['user_id', 'agent_id', 'record', 'SecretARN'],
        }),
      );
      await matrix.check(`api no context`, 'Denied', on(sealer, 'kms:Decrypt', { 'kms:CallerAccount': ACCOUNT }));
      await matrix.check(
        `api a secret via Secrets Manager`,
        'Denied',
        on(sealer, 'kms:Decrypt', {
          'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`,
          'kms:EncryptionContext:SecretARN': `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:cubicle/acme/${key.userId}/provider/anthropic-AbCdEf`,
        }),
      );
    }
    expect(matrix.mismatches.slice(0, 20)).toEqual([]);
    expect(matrix.simulator.evaluations).toBe(model.keys.length * 5 + pairs.length * 2 * (1 + 4));
  });
});

function pairOf(role: RoleModel): { user: UserConfig; agent: RosterAgentConfig } {
  const user = config.users.find((u) => u.id === role.userId);
  const agent = user?.agents.find((a) => a.id === role.agentId);
  if (!user || !agent)
    throw new Error(`role ${role.logicalId} is tagged ${role.userId}/${role.agentId}, not a roster pair`);
  return { user, agent };
}

/** The two relay APIs' ids, as the ControlPlane template resolves them. */
function relayApis(): { runtime: string; device: string } {
  const stack = `${config.name}-ControlPlane`;
  const apis = Object.entries(templates.get(stack)!.Resources).filter(
    ([, r]) => r.Type === 'AWS::ApiGatewayV2::Api' && r.Properties?.ProtocolType === 'WEBSOCKET',
  );
  const id = (match: RegExp) =>
    resolver.ref(stack, apis.find(([, r]) => match.test(String(r.Properties?.Description)))![0]);
  return { runtime: id(/agent runtimes/), device: id(/devices/) };
}
