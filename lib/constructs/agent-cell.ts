import { Stack, Tags, Validations } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as efs from 'aws-cdk-lib/aws-efs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { AGENT_CONTAINER_STOP_TIMEOUT_SECONDS } from '../../runtime/shared/agent-env';
import { agentRolePath, taskFamily } from '../../runtime/shared/names';
import { APPROVAL_RUNTIME_ATTRIBUTES, INBOX_RUNTIME_ATTRIBUTES, SESSION_RUNTIME_ATTRIBUTES } from '../../runtime/shared/rows';
import { pairKey, TableName, TABLES } from '../../runtime/shared/tables';
import { AgentConfig, CubicleConfig, UserConfig } from '../config/schema';
import { agentEnvironment, ownSecrets } from '../fleet/agent-environment';
import { agentRoleName } from '../fleet/naming';
import { allow, policy, StatementJson } from '../fleet/policy-json';
import { compare } from '../fleet/vault-secrets';
import { UserVault } from './user-vault';

/** uid and gid of the agent process and owner of its EFS directory (never root). */
export const AGENT_POSIX_ID = 10001;
export const AGENT_CONTAINER_NAME = 'agent';
export const WORKSPACE_PATH = '/workspace';

/**
 * What a runtime may do in its own partition of each control-plane table, and nothing else: no Scan,
 * no Delete, no batch or transaction calls, never another pair's key (runtime/agent/src/tables.ts,
 * approvals.ts and runtime/shared/event-log.ts are the callers).
 */
export const RUNTIME_TABLE_ACTIONS: Readonly<Record<TableName, readonly string[]>> = {
  /** Read its session row; heartbeat and inbox cursor update it. */
  sessions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
  /** Read its messages in order; claim and finish each one. */
  inbox: ['dynamodb:Query', 'dynamodb:UpdateItem'],
  /** Append to its hash chain; read the chain's head to continue it after a restart. */
  events: ['dynamodb:PutItem', 'dynamodb:Query'],
  /** Ask for approval, read the decision, expire an unanswered request. */
  approvals: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
};

/**
 * Attributes a runtime's writes may name (`dynamodb:Attributes`), for the tables whose rows also hold
 * fields only the control plane may set: a session's status and deadline (else an agent could outlive its
 * cap), an approval's decision (else an agent could approve its own outbound call), a message's body.
 * The lists include attributes the runtime's condition expressions read (`taskArn`, `state`), in case
 * IAM counts those too. Events rows are whole appended items and need no list.
 */
export const RUNTIME_WRITABLE_ATTRIBUTES: Readonly<Partial<Record<TableName, readonly string[]>>> = {
  sessions: [...SESSION_RUNTIME_ATTRIBUTES, 'taskArn'],
  inbox: INBOX_RUNTIME_ATTRIBUTES,
  approvals: APPROVAL_RUNTIME_ATTRIBUTES,
};

const WRITE_ACTIONS = new Set(['dynamodb:PutItem', 'dynamodb:UpdateItem']);

/** Shared values of the Platform stack a cell uses, resolved once per Fleet stack. */
export interface AgentPlatformRefs {
  readonly imageUri: string;
  readonly executionRoleArn: string;
  readonly logGroupName: string;
  /** The platform key, which encrypts the control-plane tables. */
  readonly tablesKeyArn: string;
  readonly tables: Readonly<Record<TableName, { readonly tableName: string; readonly tableArn: string }>>;
}

export interface AgentCellProps {
  readonly config: CubicleConfig;
  readonly user: UserConfig;
  readonly agent: AgentConfig;
  readonly vault: UserVault;
  /** The shard's file system. */
  readonly fileSystem: { readonly fileSystemId: string; readonly fileSystemArn: string };
  readonly platform: AgentPlatformRefs;
}

/**
 * One (user, agent) pair (isolation claims 1, 2, 4, 5, 6): its task role, EFS access point and Fargate
 * task definition. The role may read only the pair's own secrets, decrypt them only through Secrets
 * Manager, mount only its own access point, and touch only its own partition of the control-plane
 * tables. L1 resources: what a reviewer reads in the template is exactly what is written here, and
 * thousands of cells synthesize in seconds.
 */
export class AgentCell extends Construct {
  readonly role: iam.CfnRole;
  readonly accessPoint: efs.CfnAccessPoint;
  readonly taskDefinition: ecs.CfnTaskDefinition;
  /** The container environment as set in the task definition (values may be tokens). */
  readonly environment: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: AgentCellProps) {
    super(scope, id);
    const { config, user, agent, vault, fileSystem, platform } = props;
    const stack = Stack.of(this);
    const pk = pairKey(user.id, agent.id);

    this.accessPoint = new efs.CfnAccessPoint(this, 'AccessPoint', {
      fileSystemId: fileSystem.fileSystemId,
      rootDirectory: {
        path: `/agents/${user.id}/${agent.id}`,
        creationInfo: { ownerUid: String(AGENT_POSIX_ID), ownerGid: String(AGENT_POSIX_ID), permissions: '0700' },
      },
      posixUser: { uid: String(AGENT_POSIX_ID), gid: String(AGENT_POSIX_ID) },
    });

    const readable = ownSecrets(vault.secrets.values(), agent.id);
    const statements: StatementJson[] = [];
    if (readable.length > 0) {
      const arns = readable.map((s) => s.arn);
      statements.push(
        allow('ReadOwnSecrets', ['secretsmanager:GetSecretValue'], arns),
        allow('DecryptOwnSecretsViaSecretsManager', ['kms:Decrypt'], [vault.key.keyArn], {
          StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com`, 'kms:EncryptionContext:SecretARN': arns },
        }),
      );
    }
    statements.push(
      allow('MountOwnAccessPoint', ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'], [fileSystem.fileSystemArn], {
        StringEquals: { 'elasticfilesystem:AccessPointArn': this.accessPoint.attrArn },
      }),
    );
    for (const table of Object.keys(RUNTIME_TABLE_ACTIONS) as TableName[]) {
      const ownPartition = {
        'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [pk] },
        // ForAllValues is true when the key is absent: a request without a partition key must not pass.
        Null: { 'dynamodb:LeadingKeys': 'false' },
      };
      const writable = RUNTIME_WRITABLE_ATTRIBUTES[table];
      const actions = RUNTIME_TABLE_ACTIONS[table];
      const restricted = writable ? actions.filter((a) => WRITE_ACTIONS.has(a)) : [];
      const unrestricted = actions.filter((a) => !restricted.includes(a));
      const tableArn = [platform.tables[table].tableArn];
      if (unrestricted.length > 0) statements.push(allow(`OwnPartitionOf${TABLES[table].id}`, unrestricted, tableArn, ownPartition));
      if (writable && restricted.length > 0) {
        statements.push(
          allow(`WriteRuntimeAttributesOf${TABLES[table].id}`, restricted, tableArn, {
            'ForAllValues:StringEquals': { ...ownPartition['ForAllValues:StringEquals'], 'dynamodb:Attributes': [...writable].sort() },
            Null: { ...ownPartition.Null, 'dynamodb:Attributes': 'false' },
          }),
        );
      }
    }
    statements.push(
      allow('TablesKeyViaDynamoDb', ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], [platform.tablesKeyArn], {
        StringEquals: { 'kms:ViaService': `dynamodb.${stack.region}.amazonaws.com` },
      }),
    );
    if (agent.provider === 'bedrock') {
      statements.push(allow('InvokeConfiguredBedrockModels', ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'], bedrockModelArns(stack, config)));
    }

    this.role = new iam.CfnRole(this, 'TaskRole', {
      roleName: agentRoleName(config.name, user.id, agent.id),
      path: agentRolePath(config.name),
      description: `Cubicle: task role of agent ${agent.id} of user ${user.id}`,
      assumeRolePolicyDocument: policy({
        Sid: 'EcsTasksOfThisAccount',
        Effect: 'Allow',
        Principal: { Service: 'ecs-tasks.amazonaws.com' },
        Action: 'sts:AssumeRole',
        // Confused-deputy guard: only ECS acting for this account may assume the role.
        Condition: {
          StringEquals: { 'aws:SourceAccount': config.account },
          ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:ecs:${stack.region}:${config.account}:*` },
        },
      }),
      policies: [{ policyName: 'agent', policyDocument: policy(...statements) }],
    });

    const tableNames = Object.fromEntries(
      Object.entries(platform.tables).map(([name, table]) => [name, table.tableName]),
    ) as Record<TableName, string>;
    this.environment = agentEnvironment(config, user, agent, { secrets: vault.secrets.values(), tableNames, toJson: (v) => stack.toJsonString(v) });

    this.taskDefinition = new ecs.CfnTaskDefinition(this, 'TaskDefinition', {
      family: taskFamily(config.name, user.id, agent.id),
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: String(config.runtime.cpu),
      memory: String(config.runtime.memoryMiB),
      runtimePlatform: {
        cpuArchitecture: config.runtime.architecture === 'arm64' ? 'ARM64' : 'X86_64',
        operatingSystemFamily: 'LINUX',
      },
      executionRoleArn: platform.executionRoleArn,
      taskRoleArn: this.role.attrArn,
      volumes: [
        {
          name: 'workspace',
          efsVolumeConfiguration: {
            filesystemId: fileSystem.fileSystemId,
            transitEncryption: 'ENABLED',
            authorizationConfig: { accessPointId: this.accessPoint.attrAccessPointId, iam: 'ENABLED' },
          },
        },
        // No host path: a Fargate bind-mount volume on the task's ephemeral storage, gone with the task.
        { name: 'tmp' },
      ],
      containerDefinitions: [
        {
          name: AGENT_CONTAINER_NAME,
          image: platform.imageUri,
          essential: true,
          memory: config.runtime.memoryMiB,
          user: `${AGENT_POSIX_ID}:${AGENT_POSIX_ID}`,
          privileged: false,
          readonlyRootFilesystem: true,
          linuxParameters: { initProcessEnabled: true, capabilities: { drop: ['ALL'] } },
          // The entrypoint's grace (30 s) for the agent plus time to write its final events.
          stopTimeout: AGENT_CONTAINER_STOP_TIMEOUT_SECONDS,
          mountPoints: [
            { sourceVolume: 'workspace', containerPath: WORKSPACE_PATH, readOnly: false },
            { sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false },
          ],
          environment: Object.entries(this.environment)
            .sort(([a], [b]) => compare(a, b))
            .map(([name, value]) => ({ name, value })),
          logConfiguration: {
            logDriver: 'awslogs',
            options: {
              'awslogs-group': platform.logGroupName,
              'awslogs-region': stack.region,
              'awslogs-stream-prefix': `${user.id}/${agent.id}`,
            },
          },
        },
      ],
    });

    Tags.of(this).add('user_id', user.id);
    Tags.of(this).add('agent_id', agent.id);
    Validations.of(this.role).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason: 'Each pair has its own policy naming only its own secrets, key, access point and table partition; inline, it lives and dies with the role and adds no resource per pair (CloudFormation allows 500 per stack).',
    });
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'The environment carries ids, table names and secret ARNs only (runtime/shared/agent-env.ts); credentials are read from Secrets Manager into memory at start.',
    });
    if (agent.provider === 'bedrock') {
      for (const resource of bedrockModelArns(stack, config).filter((arn) => arn.includes('*'))) {
        Validations.of(this.role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${resource}]`,
          reason: 'A cross-region inference profile routes to its foundation model in any region of its geography, so the model must be allowed in every region; only the configured models are allowed.',
        });
      }
    }
  }
}

/** Geographic prefixes of Bedrock cross-region inference profiles (`us.anthropic.…`). */
const INFERENCE_PROFILE_PREFIX = /^(us|us-gov|eu|apac|jp|au|ca|global)\.(.+)$/;

/**
 * Invoking the configured Bedrock models. A cross-region inference profile routes to its foundation model
 * in any region of its geography, so that model is allowed in every region (the profile itself only in
 * the home region). https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html
 */
function bedrockModelArns(stack: Stack, config: CubicleConfig): string[] {
  const resources = new Set<string>();
  for (const model of config.bedrock?.models ?? []) {
    const profile = INFERENCE_PROFILE_PREFIX.exec(model);
    if (profile) {
      resources.add(`arn:${stack.partition}:bedrock:${stack.region}:${config.account}:inference-profile/${model}`);
      resources.add(`arn:${stack.partition}:bedrock:*::foundation-model/${profile[2]}`);
    } else {
      resources.add(`arn:${stack.partition}:bedrock:${stack.region}::foundation-model/${model}`);
    }
  }
  return [...resources].sort(compare);
}
