import { describe, expect, it } from 'vitest';
import { AGENT_ENV_KEYS, AGENT_ENV_SCHEMA, agentEnvProblems } from '../../runtime/shared/agent-env';
import { exampleTemplates, resourcesOfType, TemplateJson } from '../support/assembly';
import { CfnResolver } from '../support/cfn-intrinsics';
import { exampleConfig } from '../support/example-config';
import { policyStatements } from '../support/policies';
import { ACCOUNT } from '../support/account';

/**
 * Exact assertions on the bundled example's Fleet stack (synthesized once by the global setup, with
 * every compliance check): alice (sales: anthropic + crm; finance: openai + bank-feed), bruno (research:
 * bedrock + docs; writer: google), chen (ops, analyst, scout).
 */

const templates = exampleTemplates();
const config = exampleConfig();
const STACK = 'acme-Fleet-01';
const fleet = templates.get(STACK)!;
const resolver = new CfnResolver(templates, {
  account: ACCOUNT,
  regionOf: (s) => (s.endsWith('-Edge') ? 'us-east-1' : 'eu-west-1'),
});
const resolved = (id: string) => resolver.resolve(STACK, fleet.Resources[id].Properties);
const idOf = (prefix: string, type: string) => {
  const found = resourcesOfType(fleet, type).filter(([id]) => new RegExp(`^${prefix}[0-9A-F]{8}$`).test(id));
  if (found.length !== 1) throw new Error(`${found.length} ${type} named ${prefix}`);
  return found[0][0];
};
const arnOfSecret = (prefix: string) => resolver.ref(STACK, idOf(prefix, 'AWS::SecretsManager::Secret'));
/** The relay's runtime API id, as the ControlPlane template resolves it. */
const runtimeApiId = resolver.ref(
  'acme-ControlPlane',
  Object.entries(templates.get('acme-ControlPlane')!.Resources).find(
    ([, r]) => r.Type === 'AWS::ApiGatewayV2::Api' && /agent runtimes/.test(String(r.Properties?.Description)),
  )![0],
);
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/cubicle/acme/agents/${name}`;
/** `aws:userid` of a pair's role sessions: the role's unique id (GetAtt RoleId), never its name. */
const userIdOf = (user: string, agent: string) =>
  `${resolver.getAtt(STACK, idOf(`User${cap(user)}Agent${cap(agent)}TaskRole`, 'AWS::IAM::Role'), 'RoleId')}:*`;
function cap(id: string): string {
  return id[0].toUpperCase() + id.slice(1);
}
const secretArnLike = (name: string) => `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:${name}`;

describe('the example fleet', () => {
  it('is one shard holding every user, with exactly the resources its users need', () => {
    expect([...templates.keys()].filter((n) => n.includes('-Fleet-'))).toEqual(['acme-Fleet-01']);
    const count = (type: string) => resourcesOfType(fleet, type).length;
    expect({
      keys: count('AWS::KMS::Key'),
      aliases: count('AWS::KMS::Alias'),
      secrets: count('AWS::SecretsManager::Secret'),
      secretPolicies: count('AWS::SecretsManager::ResourcePolicy'),
      roles: count('AWS::IAM::Role'),
      taskDefinitions: count('AWS::ECS::TaskDefinition'),
      accessPoints: count('AWS::EFS::AccessPoint'),
      fileSystems: count('AWS::EFS::FileSystem'),
      mountTargets: count('AWS::EFS::MountTarget'),
      total: Object.keys(fleet.Resources).length,
    }).toEqual({
      keys: 3,
      aliases: 3,
      // alice: anthropic, openai, crm, bank-feed; bruno: google (bedrock and docs have none); chen: anthropic, openai, crm.
      secrets: 8,
      secretPolicies: 8,
      roles: 7,
      taskDefinitions: 7,
      accessPoints: 7,
      fileSystems: 1,
      mountTargets: 2,
      total: 3 + 3 + 8 + 8 + 7 * 3 + 1 + 2,
    });
  });

  it("retains keys, secrets, secrets' policies and the file system; roles, task definitions and access points are replaceable", () => {
    for (const [id, resource] of Object.entries(fleet.Resources)) {
      const retained = [
        'AWS::KMS::Key',
        'AWS::SecretsManager::Secret',
        'AWS::SecretsManager::ResourcePolicy',
        'AWS::EFS::FileSystem',
      ].includes(resource.Type);
      expect({ id, deletion: resource.DeletionPolicy, replace: resource.UpdateReplacePolicy }).toEqual(
        retained ? { id, deletion: 'Retain', replace: 'Retain' } : { id, deletion: undefined, replace: undefined },
      );
    }
  });

  it('tags every per-user resource with user_id and every per-pair resource with agent_id too', () => {
    for (const [id, resource] of Object.entries(fleet.Resources)) {
      const tags = Object.fromEntries(
        (
          (resource.Properties?.Tags ?? resource.Properties?.AccessPointTags ?? []) as { Key: string; Value: string }[]
        ).map((t) => [t.Key, t.Value]),
      );
      const user = /^User([A-Z][a-z]+)/.exec(id)?.[1]?.toLowerCase();
      const agent = /^User[A-Z][a-z]+Agent([A-Z][a-z]+)/.exec(id)?.[1]?.toLowerCase();
      if (!user || ['AWS::KMS::Alias', 'AWS::SecretsManager::ResourcePolicy'].includes(resource.Type)) continue; // not taggable
      expect({ id, user_id: tags.user_id, agent_id: tags.agent_id }).toEqual({ id, user_id: user, agent_id: agent });
    }
  });
});

describe("alice's vault", () => {
  const keyId = idOf('UserAliceVaultKey', 'AWS::KMS::Key');

  it('has a rotating key with an alias, whose policy lets the account administer but never use it', () => {
    const key = resolved(keyId);
    expect(key.EnableKeyRotation).toBe(true);
    expect(resolved(idOf('UserAliceVaultKeyAlias', 'AWS::KMS::Alias'))).toEqual({
      AliasName: 'alias/cubicle/acme/alice',
      TargetKeyId: resolver.getAtt(STACK, keyId, 'Arn'),
    });
    const boundTo = (agents: string[]) => ({
      StringEquals: { 'aws:PrincipalAccount': ACCOUNT },
      ArnEquals: { 'aws:PrincipalArn': agents.map((a) => role(`acme-alice_${a}`)) },
      StringLike: { 'aws:userid': agents.map((a) => userIdOf('alice', a)) },
    });
    const decrypt = (name: string, readers: string[]) => ({
      Sid: `ReadersDecrypt ${name}`,
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: {
        ...boundTo(readers),
        StringEquals: { 'aws:PrincipalAccount': ACCOUNT, 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' },
        ArnLike: { 'kms:EncryptionContext:SecretARN': `${secretArnLike(name)}-??????` },
      },
    });
    const records = (agent: string) => ({
      Sid: `AgentOpensOwnRecords ${agent}`,
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: {
        ...boundTo([agent]),
        StringEquals: {
          'aws:PrincipalAccount': ACCOUNT,
          'kms:EncryptionContext:user_id': 'alice',
          'kms:EncryptionContext:agent_id': agent,
        },
      },
    });
    expect(key.KeyPolicy).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'DenyGrantsExceptForAwsServices',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 'kms:CreateGrant',
          Resource: '*',
          Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
        },
        {
          Sid: 'AccountAdministersButNeverUsesTheKey',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
          Action: [
            'kms:CancelKeyDeletion',
            'kms:CreateAlias',
            'kms:DeleteAlias',
            'kms:DescribeKey',
            'kms:DisableKey',
            'kms:DisableKeyRotation',
            'kms:EnableKey',
            'kms:EnableKeyRotation',
            'kms:GetKeyPolicy',
            'kms:GetKeyRotationStatus',
            'kms:ListAliases',
            'kms:ListGrants',
            'kms:ListKeyPolicies',
            'kms:ListKeyRotations',
            'kms:ListResourceTags',
            'kms:PutKeyPolicy',
            'kms:RetireGrant',
            'kms:RevokeGrant',
            'kms:RotateKeyOnDemand',
            'kms:ScheduleKeyDeletion',
            'kms:TagResource',
            'kms:UntagResource',
            'kms:UpdateAlias',
            'kms:UpdateKeyDescription',
          ],
          Resource: '*',
        },
        {
          Sid: 'CredentialWritersEncrypt',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
          Action: ['kms:Encrypt', 'kms:GenerateDataKey'],
          Resource: '*',
          Condition: {
            ArnEquals: {
              'aws:PrincipalArn': [
                `arn:aws:iam::${ACCOUNT}:role/acme-credential-writer`,
                `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-eu-west-1`,
              ],
            },
            StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' },
            ArnLike: { 'kms:EncryptionContext:SecretARN': `${secretArnLike('cubicle/acme/alice/')}*` },
          },
        },
        {
          Sid: 'ControlPlaneSealsAndOpensRecords',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: '*',
          Condition: {
            ArnEquals: {
              'aws:PrincipalArn': [
                `arn:aws:iam::${ACCOUNT}:role/acme-api`,
                `arn:aws:iam::${ACCOUNT}:role/acme-relay-runtime`,
              ],
            },
            StringEquals: {
              'kms:EncryptionContext:user_id': 'alice',
              'kms:EncryptionContext:agent_id': ['finance', 'sales'],
            },
            'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['user_id', 'agent_id', 'record'] },
            Null: { 'kms:EncryptionContextKeys': 'false' },
          },
        },
        {
          // Scheduled runs seal the schedule's text, and never open anything.
          Sid: 'ScheduledRunsSealRecords',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
          Action: 'kms:GenerateDataKey',
          Resource: '*',
          Condition: {
            ArnEquals: { 'aws:PrincipalArn': [`arn:aws:iam::${ACCOUNT}:role/acme-scheduled-run`] },
            StringEquals: {
              'kms:EncryptionContext:user_id': 'alice',
              'kms:EncryptionContext:agent_id': ['finance', 'sales'],
            },
            'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['user_id', 'agent_id', 'record'] },
            Null: { 'kms:EncryptionContextKeys': 'false' },
          },
        },
        {
          // The relay's device side and fan-out open records for devices, and never seal.
          Sid: 'RelayOpensRecordsForDevices',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: {
            ArnEquals: {
              'aws:PrincipalArn': [
                `arn:aws:iam::${ACCOUNT}:role/acme-relay-device`,
                `arn:aws:iam::${ACCOUNT}:role/acme-relay-fanout`,
              ],
            },
            StringEquals: {
              'kms:EncryptionContext:user_id': 'alice',
              'kms:EncryptionContext:agent_id': ['finance', 'sales'],
            },
            'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['user_id', 'agent_id', 'record'] },
            Null: { 'kms:EncryptionContextKeys': 'false' },
          },
        },
        decrypt('cubicle/acme/alice/connection/bank-feed', ['finance']),
        decrypt('cubicle/acme/alice/connection/crm', ['sales']),
        decrypt('cubicle/acme/alice/provider/anthropic', ['sales']),
        decrypt('cubicle/acme/alice/provider/openai', ['finance']),
        records('finance'),
        records('sales'),
      ],
    });
  });

  it('has no statement that lets IAM policies use any user key, and every use is bound to a purpose', () => {
    for (const [id] of resourcesOfType(fleet, 'AWS::KMS::Key')) {
      for (const statement of resolved(id).KeyPolicy.Statement) {
        if (statement.Effect !== 'Allow') continue;
        const actions = [statement.Action].flat();
        expect(
          actions.some((a: string) => a.includes('*')),
          `${id} ${statement.Sid}`,
        ).toBe(false);
        if (
          !actions.some((a: string) =>
            ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom'].includes(a),
          )
        )
          continue;
        // Every use names its principals...
        expect(statement.Condition.ArnEquals['aws:PrincipalArn'], `${id} ${statement.Sid}`).toBeDefined();
        // ...a principal "*" only together with the account and the roles' unique ids...
        if (statement.Principal.AWS === '*') {
          expect(statement.Condition.StringEquals['aws:PrincipalAccount'], `${id} ${statement.Sid}`).toBe(ACCOUNT);
          expect(
            [statement.Condition.StringLike['aws:userid']].flat().every((u: string) => /^AROA[A-Z0-9]{17}:\*$/.test(u)),
            `${id} ${statement.Sid}`,
          ).toBe(true);
        }
        // ...and a purpose: a secret via Secrets Manager, or records of this key's user.
        const viaSecretsManager =
          statement.Condition.StringEquals?.['kms:ViaService'] === 'secretsmanager.eu-west-1.amazonaws.com';
        const records = statement.Condition.StringEquals?.['kms:EncryptionContext:user_id'] !== undefined;
        expect(viaSecretsManager !== records, `${id} ${statement.Sid}`).toBe(true);
        if (viaSecretsManager)
          expect(statement.Condition.ArnLike['kms:EncryptionContext:SecretARN']).toMatch(
            /^arn:aws:secretsmanager:eu-west-1:111111111111:secret:cubicle\/acme\/[a-z]+\//,
          );
      }
    }
  });

  it("keeps each credential in its own secret under alice's key, with a placeholder value and a deny-by-default policy", () => {
    const secretId = idOf('UserAliceVaultProviderAnthropic', 'AWS::SecretsManager::Secret');
    expect(resolved(secretId)).toEqual({
      Name: 'cubicle/acme/alice/provider/anthropic',
      Description: "Cubicle: alice's provider credential for anthropic (read by sales)",
      KmsKeyId: resolver.getAtt(STACK, keyId, 'Arn'),
      SecretString: '{"cubicle":"no credential stored yet"}',
      Tags: [
        { Key: 'cubicle:deployment', Value: 'acme' },
        { Key: 'user_id', Value: 'alice' },
      ],
    });
    expect(resolved(idOf('UserAliceVaultProviderAnthropicPolicy', 'AWS::SecretsManager::ResourcePolicy'))).toEqual({
      SecretId: resolver.ref(STACK, secretId),
      BlockPublicPolicy: true,
      ResourcePolicy: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'DenyReadExceptAgentRoles',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'secretsmanager:GetSecretValue',
            Resource: '*',
            // Bound to the role that exists now: the same name created again is another unique id.
            Condition: { StringNotLike: { 'aws:userid': [userIdOf('alice', 'sales')] } },
          },
          {
            Sid: 'DenyWriteExceptCredentialWriter',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'secretsmanager:PutSecretValue',
            Resource: '*',
            Condition: { ArnNotEquals: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/acme-credential-writer` } },
          },
          {
            Sid: 'DenyChangesExceptCloudFormation',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: [
              'secretsmanager:DeleteResourcePolicy',
              'secretsmanager:PutResourcePolicy',
              'secretsmanager:UpdateSecret',
            ],
            Resource: '*',
            Condition: {
              ArnNotEquals: {
                'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-eu-west-1`,
              },
            },
          },
        ],
      },
    });
    for (const [id, secret] of resourcesOfType(fleet, 'AWS::SecretsManager::Secret')) {
      expect(secret.Properties.SecretString, id).toBe('{"cubicle":"no credential stored yet"}');
      expect(secret.Properties.GenerateSecretString, id).toBeUndefined();
    }
  });
});

describe("alice's sales agent", () => {
  const roleId = idOf('UserAliceAgentSalesTaskRole', 'AWS::IAM::Role');
  const apId = idOf('UserAliceAgentSalesAccessPoint', 'AWS::EFS::AccessPoint');
  const fsId = idOf('StorageFileSystem', 'AWS::EFS::FileSystem');

  const cluster = resolver.ref(
    'acme-Platform',
    resourcesOfType(templates.get('acme-Platform')!, 'AWS::ECS::Cluster')[0][0],
  );

  it('has a task role under the deployment path, assumable by ECS tasks of the Cubicle cluster only', () => {
    const props = resolved(roleId);
    expect(props.RoleName).toBe('acme-alice_sales');
    expect(props.Path).toBe('/cubicle/acme/agents/');
    expect(props.Tags).toEqual([
      { Key: 'agent_id', Value: 'sales' },
      { Key: 'cubicle:deployment', Value: 'acme' },
      { Key: 'user_id', Value: 'alice' },
    ]);
    expect(props.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'EcsTasksOfThisAccount',
          Effect: 'Allow',
          Principal: { Service: 'ecs-tasks.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: {
            StringEquals: { 'aws:SourceAccount': ACCOUNT },
            ArnLike: {
              'aws:SourceArn': [
                `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/${cluster}`,
                `arn:aws:ecs:eu-west-1:${ACCOUNT}:task/${cluster}/*`,
              ],
            },
          },
        },
      ],
    });
    expect(props.ManagedPolicyArns).toBeUndefined();
    expect(props.PermissionsBoundary).toBeUndefined();
  });

  it('may do exactly this: its secrets (by name: the key and secrets bind the role, not the reverse), its access point, open the runtime relay', () => {
    const own = [
      `${secretArnLike('cubicle/acme/alice/connection/crm')}-??????`,
      `${secretArnLike('cubicle/acme/alice/provider/anthropic')}-??????`,
    ];
    expect(resolved(roleId).Policies).toEqual([
      {
        PolicyName: 'agent',
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Sid: 'ReadOwnSecrets', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: own },
            {
              Sid: 'MountOwnAccessPoint',
              Effect: 'Allow',
              Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'],
              Resource: resolver.getAtt(STACK, fsId, 'Arn'),
              Condition: { StringEquals: { 'elasticfilesystem:AccessPointArn': resolver.getAtt(STACK, apId, 'Arn') } },
            },
            // The relay's runtime API, $connect only: the runtime's one way to the control plane (no table access).
            {
              Sid: 'ConnectToTheRuntimeRelay',
              Effect: 'Allow',
              Action: 'execute-api:Invoke',
              Resource: `arn:aws:execute-api:eu-west-1:111111111111:${runtimeApiId}/runtime/$connect`,
            },
          ],
        },
      },
    ]);
  });

  it('has its own access point: its own directory, a non-root POSIX identity, mode 0700', () => {
    expect(resolved(apId)).toEqual({
      FileSystemId: resolver.ref(STACK, fsId),
      RootDirectory: {
        Path: '/agents/alice/sales',
        CreationInfo: { OwnerUid: '10001', OwnerGid: '10001', Permissions: '0700' },
      },
      PosixUser: { Uid: '10001', Gid: '10001' },
      AccessPointTags: [
        { Key: 'agent_id', Value: 'sales' },
        { Key: 'cubicle:deployment', Value: 'acme' },
        { Key: 'user_id', Value: 'alice' },
      ],
    });
  });

  it('runs in a hardened Fargate task: two containers, read-only roots, no capabilities, uids 10001 and 10002, /workspace from its access point, ephemeral /tmp and exchange', () => {
    const task = resolved(idOf('UserAliceAgentSalesTaskDefinition', 'AWS::ECS::TaskDefinition'));
    const { ContainerDefinitions, Tags, ...rest } = task;
    expect(rest).toEqual({
      Family: 'acme-alice_sales',
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      Cpu: '1024',
      Memory: '2048',
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
      ExecutionRoleArn: resolver.getAtt(
        'acme-Platform',
        idOfIn('acme-Platform', 'TaskExecutionRole', 'AWS::IAM::Role'),
        'Arn',
      ),
      TaskRoleArn: resolver.getAtt(STACK, roleId, 'Arn'),
      Volumes: [
        {
          Name: 'workspace',
          EFSVolumeConfiguration: {
            FilesystemId: resolver.ref(STACK, fsId),
            TransitEncryption: 'ENABLED',
            AuthorizationConfig: { AccessPointId: resolver.ref(STACK, apId), IAM: 'ENABLED' },
          },
        },
        { Name: 'tmp' },
        { Name: 'workbench-tmp' },
        { Name: 'exchange' },
      ],
    });
    expect(rest).not.toHaveProperty('PidMode'); // each container its own PID namespace
    expect(Tags).toEqual([
      { Key: 'agent_id', Value: 'sales' },
      { Key: 'cubicle:deployment', Value: 'acme' },
      { Key: 'user_id', Value: 'alice' },
    ]);
    expect(ContainerDefinitions).toHaveLength(2);
    const logs = {
      LogDriver: 'awslogs',
      Options: {
        'awslogs-group': resolver.ref(
          'acme-Platform',
          idOfIn('acme-Platform', 'AgentLogsLogGroup', 'AWS::Logs::LogGroup'),
        ),
        'awslogs-region': 'eu-west-1',
        'awslogs-stream-prefix': 'alice/sales',
      },
    };
    const { Environment, Image, ...container } = ContainerDefinitions[0];
    expect(container).toEqual({
      Name: 'supervisor',
      Essential: true,
      Memory: 384,
      User: '10001:10001',
      Privileged: false,
      ReadonlyRootFilesystem: true,
      LinuxParameters: { InitProcessEnabled: true, Capabilities: { Drop: ['ALL'] } },
      StopTimeout: 45,
      MountPoints: [
        { SourceVolume: 'workspace', ContainerPath: '/workspace', ReadOnly: true },
        { SourceVolume: 'tmp', ContainerPath: '/tmp', ReadOnly: false },
        { SourceVolume: 'exchange', ContainerPath: '/run/cubicle', ReadOnly: false },
      ],
      LogConfiguration: logs,
    });
    expect(Image).toMatch(
      /^111111111111\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/cdk-hnb659fds-container-assets-111111111111-eu-west-1:[0-9a-f]{64}$/,
    );
    // The workbench: same image, another uid, no environment of its own, no ECS init (its PID 1 would keep the
    // injected credentials URI), the exchange read-only, its output discarded by its entrypoint.
    expect(ContainerDefinitions[1]).toEqual({
      Name: 'workbench',
      Image,
      Essential: true,
      Memory: 2048 - 384,
      User: '10002:10002',
      Privileged: false,
      ReadonlyRootFilesystem: true,
      LinuxParameters: { InitProcessEnabled: false, Capabilities: { Drop: ['ALL'] } },
      StopTimeout: 45,
      EntryPoint: ['/opt/cubicle/workbench-env.sh'],
      Command: ['/usr/bin/tini', '-s', '--', 'node', '/opt/cubicle/workbench.cjs'],
      DependsOn: [{ ContainerName: 'supervisor', Condition: 'START' }],
      MountPoints: [
        { SourceVolume: 'workspace', ContainerPath: '/workspace', ReadOnly: false },
        { SourceVolume: 'workbench-tmp', ContainerPath: '/tmp', ReadOnly: false },
        { SourceVolume: 'exchange', ContainerPath: '/run/cubicle', ReadOnly: true },
      ],
      Environment: [],
      LogConfiguration: logs,
    });
    expect(Object.fromEntries(Environment.map((e: { Name: string; Value: string }) => [e.Name, e.Value]))).toEqual({
      CUBICLE_DEPLOYMENT: 'acme',
      CUBICLE_USER_ID: 'alice',
      CUBICLE_AGENT_ID: 'sales',
      CUBICLE_PROVIDER: 'anthropic',
      CUBICLE_OUTBOUND_POLICY: 'confirm',
      CUBICLE_SKILLS: 'crm-notes@1.2.0',
      CUBICLE_CONNECTIONS: JSON.stringify([
        { id: 'crm', hosts: ['acme.my.salesforce.com'], secretArn: arnOfSecret('UserAliceVaultConnectionCrm') },
      ]),
      CUBICLE_PROVIDER_SECRET_ARN: arnOfSecret('UserAliceVaultProviderAnthropic'),
      CUBICLE_USER_KEY_ARN: resolver.getAtt(STACK, idOf('UserAliceVaultKey', 'AWS::KMS::Key'), 'Arn'),
      CUBICLE_MAX_TASK_DURATION_MS: '7200000',
      CUBICLE_IDLE_TIMEOUT_MS: '900000',
      CUBICLE_RELAY_URL: `wss://${runtimeApiId}.execute-api.eu-west-1.amazonaws.com/runtime`,
    });
  });
});

describe('every pair of the example', () => {
  const tasks = resourcesOfType(fleet, 'AWS::ECS::TaskDefinition').map(([id]) => ({ id, task: resolved(id) }));
  const pairs = config.users.flatMap((u) => u.agents.map((a) => ({ user: u, agent: a })));

  it('sets exactly the agent environment: AGENT_ENV_KEYS, minus the optional ones that do not apply, ids and ARNs only', () => {
    expect(tasks).toHaveLength(pairs.length);
    for (const { user, agent } of pairs) {
      const task = tasks.find((t) => t.task.Family === `acme-${user.id}_${agent.id}`)!.task;
      const env = Object.fromEntries(
        task.ContainerDefinitions[0].Environment.map((e: { Name: string; Value: string }) => [e.Name, e.Value]),
      );
      const notApplicable =
        agent.provider === 'bedrock'
          ? ['CUBICLE_PROVIDER_SECRET_ARN']
          : ['CUBICLE_BEDROCK_MODELS', 'CUBICLE_BEDROCK_ROLE_ARN'];
      expect(Object.keys(env).sort(), `${user.id}/${agent.id}`).toEqual(
        AGENT_ENV_KEYS.filter((k) => !notApplicable.includes(k)).sort(),
      );
      const parsed = AGENT_ENV_SCHEMA.parse(env);
      expect(agentEnvProblems(parsed), `${user.id}/${agent.id}`).toEqual([]);
      for (const value of Object.values(env)) expect(String(value)).not.toMatch(/no credential stored|sk-|AKIA/);
    }
  });

  it('gives bedrock agents the configured models and the invoker role to assume, and no stored provider secret', () => {
    const research = tasks.find((t) => t.task.Family === 'acme-bruno_research')!.task;
    const env = Object.fromEntries(
      research.ContainerDefinitions[0].Environment.map((e: { Name: string; Value: string }) => [e.Name, e.Value]),
    );
    expect(env.CUBICLE_BEDROCK_MODELS).toBe('us.anthropic.claude-sonnet-4-5-20250929-v1:0');
    expect(JSON.parse(env.CUBICLE_CONNECTIONS)).toEqual([{ id: 'docs', hosts: ['docs.acme.example'] }]);
    const policy = resolved(idOf('UserBrunoAgentResearchTaskRole', 'AWS::IAM::Role')).Policies[0].PolicyDocument
      .Statement;
    expect(policy.map((s: { Sid: string }) => s.Sid)).not.toContain('ReadOwnSecrets');
    // No model rights of its own: the supervisor assumes the invoker role and hands the CLI that session.
    expect(env.CUBICLE_BEDROCK_ROLE_ARN).toBe(`arn:aws:iam::${ACCOUNT}:role/cubicle/acme/acme-bedrock-invoker`);
    expect(policy.find((s: { Sid: string }) => s.Sid === 'AssumeModelInvokerRole')).toEqual({
      Sid: 'AssumeModelInvokerRole',
      Effect: 'Allow',
      Action: 'sts:AssumeRole',
      Resource: `arn:aws:iam::${ACCOUNT}:role/cubicle/acme/acme-bedrock-invoker`,
    });
    expect(JSON.stringify(policy)).not.toContain('bedrock:');
  });

  it('hardens every container the same way', () => {
    for (const { id, task } of tasks) {
      const c = task.ContainerDefinitions[0];
      expect({
        id,
        root: c.ReadonlyRootFilesystem,
        user: c.User,
        privileged: c.Privileged,
        linux: c.LinuxParameters,
        stop: c.StopTimeout,
      }).toEqual({
        id,
        root: true,
        user: '10001:10001',
        privileged: false,
        linux: { InitProcessEnabled: true, Capabilities: { Drop: ['ALL'] } },
        stop: 45,
      });
      expect(task.NetworkMode).toBe('awsvpc');
      expect(task.Volumes[0].EFSVolumeConfiguration).toMatchObject({
        TransitEncryption: 'ENABLED',
        AuthorizationConfig: { IAM: 'ENABLED' },
      });
    }
  });

  it('grants no "*" action, no Scan, Delete, batch, transaction or PartiQL call, and no table access without a partition condition', () => {
    for (const { where, statement, kind } of policyStatements(fleet as TemplateJson)) {
      if (kind !== 'identity') continue;
      const actions = [statement.Action].flat() as string[];
      for (const action of actions) {
        expect(action, where).not.toMatch(/\*/);
        expect(action, where).not.toMatch(/^dynamodb:(Scan|Delete|Batch|Transact|PartiQL|DescribeStream|GetRecords)/);
      }
      expect([statement.Resource].flat(), where).not.toContain('*');
      if (actions.some((a) => a.startsWith('dynamodb:'))) {
        expect(statement.Condition, where).toMatchObject({
          'ForAllValues:StringEquals': {
            'dynamodb:LeadingKeys': [expect.stringMatching(/^[a-z][a-z0-9-]*#[a-z][a-z0-9-]*$/)],
          },
          Null: { 'dynamodb:LeadingKeys': 'false' },
        });
      }
    }
  });

  it("names, in a role's policy, only its own user's key and secrets and its own access point", () => {
    for (const [roleId, roleResource] of resourcesOfType(fleet, 'AWS::IAM::Role')) {
      const owner = /^User([A-Z][a-z]+)Agent([A-Z][a-z]+)/.exec(roleId)!;
      const [user, agent] = [owner[1], owner[2]];
      for (const ref of JSON.stringify(roleResource.Properties.Policies).match(
        /"(Ref|Fn::GetAtt)":\s*(\["[A-Za-z0-9]+"|"[A-Za-z0-9]+")/g,
      ) ?? []) {
        const target = /"([A-Za-z0-9]+)"$|\["([A-Za-z0-9]+)"/.exec(ref)!.slice(1).find(Boolean)!;
        if (target.startsWith('Storage')) continue; // the shard's file system: the condition picks the access point
        expect(target, roleId).toMatch(new RegExp(`^User${user}(Vault|Agent${agent})`));
      }
    }
  });
});

describe('the shard file system', () => {
  it('is encrypted with the platform key, elastic, backed up, and its policy only denies: no TLS, no access point, root', () => {
    const fsId = idOf('StorageFileSystem', 'AWS::EFS::FileSystem');
    const deny = (Sid: string, Action: string | string[], Condition?: object) => ({
      Sid,
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action,
      ...(Condition ? { Condition } : {}),
    });
    const all = [
      'elasticfilesystem:ClientMount',
      'elasticfilesystem:ClientRootAccess',
      'elasticfilesystem:ClientWrite',
    ];
    expect(resolved(fsId)).toEqual({
      Encrypted: true,
      KmsKeyId: resolver.getAtt('acme-Platform', idOfIn('acme-Platform', 'PlatformKey', 'AWS::KMS::Key'), 'Arn'),
      PerformanceMode: 'generalPurpose',
      ThroughputMode: 'elastic',
      BackupPolicy: { Status: 'ENABLED' },
      FileSystemPolicy: {
        Version: '2012-10-17',
        Statement: [
          deny('DenyWithoutTls', all, { BoolIfExists: { 'aws:SecureTransport': 'false' } }),
          deny('DenyWithoutAccessPoint', all, { Null: { 'elasticfilesystem:AccessPointArn': 'true' } }),
          deny('DenyRootAccess', 'elasticfilesystem:ClientRootAccess'),
        ],
      },
      FileSystemTags: [{ Key: 'cubicle:deployment', Value: 'acme' }],
    });
    const network = templates.get('acme-Network')!;
    const efsGroup = resourcesOfType(network, 'AWS::EC2::SecurityGroup').find(([id]) =>
      id.startsWith('SecurityGroupsEfs'),
    )![0];
    const privateSubnets = resourcesOfType(network, 'AWS::EC2::Subnet')
      .filter(([id]) => id.startsWith('VpcPrivate'))
      .map(([id]) => resolver.ref('acme-Network', id));
    const targets = resourcesOfType(fleet, 'AWS::EFS::MountTarget').map(([id]) => resolved(id));
    expect(targets).toEqual(
      privateSubnets.map((SubnetId) => ({
        FileSystemId: resolver.ref(STACK, fsId),
        SubnetId,
        SecurityGroups: [resolver.getAtt('acme-Network', efsGroup, 'GroupId')],
      })),
    );
  });
});

function idOfIn(stack: string, prefix: string, type: string): string {
  const found = resourcesOfType(templates.get(stack)!, type).filter(([id]) =>
    new RegExp(`^${prefix}[0-9A-F]{8}$`).test(id),
  );
  if (found.length !== 1) throw new Error(`${found.length} ${type} named ${prefix} in ${stack}`);
  return found[0][0];
}
