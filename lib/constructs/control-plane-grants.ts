/**
 * The control plane's grants: each `bind…` helper sets the environment variable a function reads and
 * grants exactly what that variable lets it do (tables, launching and stopping tasks, record keys,
 * secrets, token verification), so a function never gets a name without the permission or the reverse.
 */
import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { ENV, TOKEN_ENV } from '../../runtime/shared/function-contract';
import { agentRolePath, secretNamePrefix, taskFamilyPrefix, userKeyAlias } from '../../runtime/shared/names';
import { CONTEXT_KEYS } from '../../runtime/shared/sealed';
import { allowedAttributes, allowedReturnValues, type WriterFunction } from '../../runtime/shared/table-writes';
import { ACTIVE_INDEX, TABLES, TableName } from '../../runtime/shared/tables';
import { CubicleFunction } from './cubicle-function';

/** DynamoDB item actions the control plane uses; Scan is deliberately not one of them. */
export type TableAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:BatchGetItem'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:Query';

export interface BindTableOptions {
  readonly table: dynamodb.ITable;
  /** The platform key the tables are encrypted with. */
  readonly key: kms.IKey;
  readonly actions: readonly TableAction[];
  /** Who writes (runtime/shared/table-writes.ts): required with PutItem or UpdateItem, whose attributes it limits. */
  readonly writer?: WriterFunction;
  /** Query on the Sessions table's sparse active index (the reaper). */
  readonly queryActiveIndex?: boolean;
}

/** Writes whose attributes the registry limits. DeleteItem names only the key (and its condition). */
const WRITE_ACTIONS: readonly TableAction[] = ['dynamodb:PutItem', 'dynamodb:UpdateItem'];

/**
 * Sets the table's name variable and grants exactly the listed actions on it (and its key via DynamoDB).
 * PutItem and UpdateItem get their own statement, limited to the attributes the writer's entry in
 * TABLE_WRITES lists and to the ReturnValues it uses
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html).
 * No `Null: false` beside it: every PutItem and UpdateItem names at least the table's key, so DynamoDB's
 * `dynamodb:Attributes` is never empty for them; the only request it would refuse is one for which DynamoDB
 * sets no attribute list at all, and refusing that would stop every write, which no test here can rule out.
 */
export function bindTable(fn: CubicleFunction, name: TableName, options: BindTableOptions): void {
  fn.setEnv(TABLES[name].envVar, options.table.tableName);
  const writes = options.actions.filter((a) => WRITE_ACTIONS.includes(a));
  const others = options.actions.filter((a) => !WRITE_ACTIONS.includes(a));
  if (others.length > 0) fn.allow(new iam.PolicyStatement({ actions: others, resources: [options.table.tableArn] }));
  if (writes.length > 0) {
    if (!options.writer) throw new Error(`bindTable(${name}): ${writes.join(', ')} needs a writer (table-writes.ts)`);
    fn.allow(
      new iam.PolicyStatement({
        actions: writes,
        resources: [options.table.tableArn],
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': allowedAttributes(options.writer, name) },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': allowedReturnValues(options.writer, name) },
        },
      }),
    );
  }
  if (options.queryActiveIndex) {
    if (name !== 'sessions') throw new Error('only the Sessions table has the active index');
    fn.allow(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${options.table.tableArn}/index/${ACTIVE_INDEX.name}`],
      }),
    );
  }
  fn.bindTableKey(options.key);
}

export interface LauncherOptions {
  readonly deployment: string;
  readonly cluster: ecs.ICluster;
  readonly subnets: readonly ec2.ISubnet[];
  /** The agent tasks' security group (no ingress). */
  readonly agentSecurityGroup: ec2.ISecurityGroup;
  /** The shared task execution role, passed with every task definition. */
  readonly executionRole: iam.IRole;
  readonly maxTaskDurationSeconds: number;
  readonly idleTimeoutSeconds: number;
}

/**
 * Task ARNs for actions on tasks; every such statement also carries the `ecs:cluster` condition, which
 * is what limits it to the Cubicle cluster (the cluster's generated name is not known to this stack).
 */
export function tasksArn(scope: Construct): string {
  return Stack.of(scope).formatArn({ service: 'ecs', resource: 'task', resourceName: '*' });
}

/** Acknowledges one wildcard resource of a function's role, with the reason it cannot be narrower. */
function acknowledgeWildcard(fn: CubicleFunction, resource: string, reason: string): void {
  Validations.of(fn.role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
}

/**
 * The launcher's rights, and only the launcher's (lib/constructs/launcher-function.ts): RunTask on this
 * deployment's task families only (in this cluster), PassRole on the fleet's agent-role path and the
 * execution role only to ECS tasks, tags on create only, StopTask only in this cluster (a sleep that came
 * while starting). Sets the tasks' network with them.
 */
export function bindTaskStarter(fn: CubicleFunction, options: LauncherOptions): void {
  const stack = Stack.of(fn);
  fn.setEnv(ENV.deployment, options.deployment);
  fn.setEnv(ENV.clusterArn, options.cluster.clusterArn);
  fn.setEnv(ENV.subnetIds, options.subnets.map((s) => s.subnetId).join(','));
  fn.setEnv(ENV.securityGroupIds, options.agentSecurityGroup.securityGroupId);
  const inCluster = { ArnEquals: { 'ecs:cluster': options.cluster.clusterArn } };
  const families = stack.formatArn({
    service: 'ecs',
    resource: 'task-definition',
    resourceName: `${taskFamilyPrefix(options.deployment)}*`,
  });
  const agentRoles = stack.formatArn({
    service: 'iam',
    region: '',
    resource: 'role',
    resourceName: `${agentRolePath(options.deployment).slice(1)}*`,
  });
  fn.allow(new iam.PolicyStatement({ actions: ['ecs:RunTask'], resources: [families], conditions: inCluster }));
  fn.allow(
    new iam.PolicyStatement({
      actions: ['ecs:TagResource'],
      resources: [tasksArn(fn)],
      conditions: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
    }),
  );
  fn.allow(
    new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [agentRoles, options.executionRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    }),
  );
  fn.allow(new iam.PolicyStatement({ actions: ['ecs:StopTask'], resources: [tasksArn(fn)], conditions: inCluster }));
  acknowledgeWildcard(
    fn,
    families,
    'Every task family of this deployment (`<name>-<user>_<agent>`, one per pair, created by the fleet stacks, any revision), and only in the Cubicle cluster (ecs:cluster condition).',
  );
  acknowledgeWildcard(
    fn,
    agentRoles,
    "The fleet's per-pair task roles live under this deployment's IAM path; PassRole is further limited to ECS tasks (iam:PassedToService).",
  );
  acknowledgeWildcard(
    fn,
    tasksArn(fn),
    'Task ids are chosen by ECS; ecs:cluster limits StopTask and tagging to tasks of the Cubicle cluster being created by RunTask.',
  );
}

/**
 * What the functions that wake, stop and reap agents get: the session timings, the cluster, and StopTask
 * in this cluster only. They start nothing themselves: they invoke the launcher (bindLaunchInvoker).
 */
export function bindTaskStopper(fn: CubicleFunction, options: LauncherOptions): void {
  bindLaunchSettings(fn, options);
  fn.allow(
    new iam.PolicyStatement({
      actions: ['ecs:StopTask'],
      resources: [tasksArn(fn)],
      conditions: { ArnEquals: { 'ecs:cluster': options.cluster.clusterArn } },
    }),
  );
  acknowledgeWildcard(
    fn,
    tasksArn(fn),
    'Task ids are chosen by ECS; ecs:cluster limits StopTask/DescribeTasks to tasks of the Cubicle cluster.',
  );
}

/**
 * The session timings and the cluster a wake records on a session row; no grant goes with them (a function
 * that only wakes agents stops nothing: it invokes the launcher, bindLaunchInvoker).
 */
export function bindLaunchSettings(fn: CubicleFunction, options: LauncherOptions): void {
  fn.setEnv(ENV.deployment, options.deployment);
  fn.setEnv(ENV.clusterArn, options.cluster.clusterArn);
  fn.setEnv(ENV.maxTaskDurationMs, String(options.maxTaskDurationSeconds * 1000));
  fn.setEnv(ENV.idleTimeoutMs, String(options.idleTimeoutSeconds * 1000));
}

/** Invoking the launcher function (its name in CUBICLE_LAUNCHER_FUNCTION), and nothing else of Lambda. */
export function bindLaunchInvoker(fn: CubicleFunction, launcher: CubicleFunction): void {
  fn.setEnv(ENV.launcherFunction, launcher.function.functionName);
  fn.allow(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [launcher.function.functionArn] }));
}

/**
 * Sealing and opening employees' records under the user keys (runtime/shared/envelope.ts): DescribeKey to
 * resolve a user's alias, GenerateDataKey and Decrypt with exactly the envelope's encryption context keys,
 * on keys aliased under this deployment. The user keys' policies admit this role by name and only for their
 * own user (lib/constructs/user-vault.ts); the role's name is fixed for that (runtime/shared/names.ts).
 */
export function bindRecordSealer(fn: CubicleFunction, deployment: string): void {
  bindRecordKeys(fn, deployment, ['kms:Decrypt', 'kms:GenerateDataKey']);
}

/** Sealing records only (RECORD_WRITERS: scheduled runs post text and read nothing back): GenerateDataKey, never Decrypt. */
export function bindRecordWriter(fn: CubicleFunction, deployment: string): void {
  bindRecordKeys(fn, deployment, ['kms:GenerateDataKey']);
}

/**
 * Opening records only (the relay's device side and fan-out hand devices plaintext): Decrypt, never a data
 * key to seal with, under the same conditions (RECORD_OPENERS in runtime/shared/names.ts).
 */
export function bindRecordOpener(fn: CubicleFunction, deployment: string): void {
  bindRecordKeys(fn, deployment, ['kms:Decrypt']);
}

function bindRecordKeys(fn: CubicleFunction, deployment: string, actions: readonly string[]): void {
  const stack = Stack.of(fn);
  fn.setEnv(ENV.deployment, deployment);
  const keys = stack.formatArn({ service: 'kms', resource: 'key', resourceName: '*' });
  const userKeys = { 'ForAnyValue:StringLike': { 'kms:ResourceAliases': userKeyAlias(deployment, '*') } };
  fn.allow(new iam.PolicyStatement({ actions: ['kms:DescribeKey'], resources: [keys], conditions: userKeys }));
  fn.allow(
    new iam.PolicyStatement({
      actions: [...actions],
      resources: [keys],
      conditions: {
        ...userKeys,
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': Object.values(CONTEXT_KEYS) },
        Null: { 'kms:EncryptionContextKeys': 'false' },
      },
    }),
  );
  acknowledgeWildcard(
    fn,
    keys,
    "The user keys are created by the fleet stacks (ids unknown here); the conditions limit use to keys aliased under this deployment and to records' encryption context, and each key's policy admits this role for its own user only.",
  );
}

/** The reaper's view of the cluster: which tasks run, and their details. */
export function bindTaskObserver(fn: CubicleFunction, cluster: ecs.ICluster): void {
  const inCluster = { ArnEquals: { 'ecs:cluster': cluster.clusterArn } };
  fn.allow(
    new iam.PolicyStatement({ actions: ['ecs:DescribeTasks'], resources: [tasksArn(fn)], conditions: inCluster }),
  );
  // ListTasks has no task resource to name (its resource type is the container instance, which Fargate
  // does not have); the cluster condition is what scopes it.
  fn.allow(new iam.PolicyStatement({ actions: ['ecs:ListTasks'], resources: ['*'], conditions: inCluster }));
}

/**
 * PutSecretValue on this deployment's secrets, and the user keys' data keys for them through Secrets
 * Manager only (the fleet's key policies delegate to IAM for this role name). Nothing to read anything.
 */
export function bindSecretWriter(fn: CubicleFunction, deployment: string): void {
  const stack = Stack.of(fn);
  fn.setEnv(ENV.deployment, deployment);
  const keys = stack.formatArn({ service: 'kms', resource: 'key', resourceName: '*' });
  fn.allow(
    new iam.PolicyStatement({
      actions: ['kms:GenerateDataKey', 'kms:Encrypt'],
      resources: [keys],
      conditions: {
        StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` },
        ArnLike: {
          'kms:EncryptionContext:SecretARN': stack.formatArn({
            service: 'secretsmanager',
            resource: 'secret',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            resourceName: `${secretNamePrefix(deployment)}*`,
          }),
        },
        'ForAnyValue:StringLike': { 'kms:ResourceAliases': `${userKeyAlias(deployment, '*')}` },
      },
    }),
  );
  acknowledgeWildcard(
    fn,
    keys,
    "The user keys are created by the fleet stacks (ids unknown here); the conditions limit use to keys aliased under this deployment, through Secrets Manager, for this deployment's secrets.",
  );
  const secrets = Stack.of(fn).formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    resourceName: `${secretNamePrefix(deployment)}*`,
  });
  fn.allow(new iam.PolicyStatement({ actions: ['secretsmanager:PutSecretValue'], resources: [secrets] }));
  acknowledgeWildcard(
    fn,
    secrets,
    "This deployment's secret-name prefix: the fleet stacks create the secrets (their ARNs end in a random suffix), and each secret's resource policy admits only this role for PutSecretValue.",
  );
}

/** What a function needs to verify employees' tokens itself (runtime/control-plane/auth). */
export interface TokenIssuer {
  /** `cognito` for the default user pool (access tokens of its app client), `oidc` for an external issuer. */
  readonly kind: 'cognito' | 'oidc';
  readonly issuer: string;
  readonly audience: readonly string[];
}

/**
 * The token verifier's settings: issuer, audience (or Cognito app client) and kind. No grant goes with
 * them: the issuer's JWKS is public, fetched over HTTPS through the functions' egress.
 */
export function bindTokenVerifier(fn: CubicleFunction, issuer: TokenIssuer): void {
  fn.setEnv(TOKEN_ENV.kind, issuer.kind);
  fn.setEnv(TOKEN_ENV.issuer, issuer.issuer);
  fn.setEnv(TOKEN_ENV.audience, issuer.audience.join(','));
}
