import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { constructIdOf } from '../../runtime/shared/ids';
import { recordSealerRoleName } from '../../runtime/shared/names';
import { scheduleKey } from '../../runtime/shared/schedules';
import { TableName } from '../../runtime/shared/tables';
import { CubicleConfig, ScheduleConfig } from '../config/schema';
import { CubicleFunction } from './cubicle-function';
import { bindLaunchSettings, bindRecordWriter, bindTable, LauncherOptions } from './control-plane-grants';
import { FunctionBase } from './employee-api';
import type { LauncherFunction } from './launcher-function';
import { invokeFunctionName, invokeParameterPath } from './pipeline-roles';
import { createRetainedKey } from './retained-key';

export interface ScheduledRunsProps {
  readonly base: FunctionBase;
  readonly config: CubicleConfig;
  /** The roster directory (with the declared schedules), bundled as roster.json. */
  readonly rosterFile: string;
  readonly tables: Record<TableName, dynamodb.ITable>;
  readonly tableKey: kms.IKey;
  readonly launcher: LauncherOptions;
  readonly launcherFunction: LauncherFunction;
}

/** Scheduler's retries of a failed delivery (throttled or unavailable function), and how long it keeps trying. */
export const SCHEDULE_RETRY = { maximumRetryAttempts: 5, maximumEventAgeInSeconds: 3600 } as const;

/** The SSM parameters of each GitHub environment, under the path its invoke role reads (`/<name>/<env>/`). */
export const SCHEDULE_PARAMETERS = {
  functionName: 'scheduled-run/function-name',
  scheduleIds: 'scheduled-run/schedule-ids',
} as const;

/** SSM's value limits: standard tier 4 KB, advanced 8 KB. */
const STANDARD_PARAMETER_BYTES = 4096;
const ADVANCED_PARAMETER_BYTES = 8192;

/** One declared schedule with its owner. */
export interface DeclaredScheduleRef {
  readonly userId: string;
  readonly agentId: string;
  readonly schedule: ScheduleConfig;
  /** `<user>/<agent>/<schedule>`: the function's only input. */
  readonly key: string;
}

/** Every schedule of the config, ordered by key so reordering the roster changes nothing. */
export function declaredSchedules(config: CubicleConfig): DeclaredScheduleRef[] {
  return config.users
    .flatMap((user) =>
      user.agents.flatMap((agent) =>
        agent.schedules.map((schedule) => ({
          userId: user.id,
          agentId: agent.id,
          schedule,
          key: scheduleKey(user.id, agent.id, schedule.id),
        })),
      ),
    )
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Scheduler's expression of a schedule: `cron(...)` or `rate(...)`. */
export function scheduleExpression(schedule: ScheduleConfig): string {
  return schedule.cron !== undefined ? `cron(${schedule.cron.trim()})` : `rate(${(schedule.rate as string).trim()})`;
}

/**
 * Scheduled runs (README "Scheduled runs"): the `scheduled-run` function, the one function the pipeline's
 * invoke role may call (its name is fixed for that: lib/constructs/pipeline-roles.ts), one EventBridge
 * Scheduler schedule per schedule of the config targeting it with `{ scheduleId }`, a scheduler role that
 * may invoke only that function (and report to the dead-letter queue), an encrypted dead-letter queue for
 * deliveries that failed every retry and for the function's failed asynchronous runs, and the SSM
 * parameters each environment's invoke role reads.
 */
export class ScheduledRuns extends Construct {
  readonly fn: CubicleFunction;
  readonly deadLetters: sqs.Queue;
  readonly deadLetterKey: kms.Key;
  /** Absent when the config declares no schedule. */
  readonly schedulerRole?: iam.Role;
  /** By schedule key (`<user>/<agent>/<schedule>`). */
  readonly schedules: ReadonlyMap<string, scheduler.CfnSchedule>;
  readonly parameters: ssm.StringParameter[] = [];

  constructor(scope: Construct, id: string, props: ScheduledRunsProps) {
    super(scope, id);
    const { config, tables, tableKey: key } = props;
    const stack = Stack.of(this);

    this.fn = new CubicleFunction(this, 'Function', {
      ...props.base,
      handler: 'scheduled-run',
      description: "scheduled runs: posts a declared schedule's message to its agent and wakes it",
      rosterFile: props.rosterFile,
      functionName: invokeFunctionName(config),
      // Named: every user key's policy admits it, by this name, to seal that user's messages.
      roleName: recordSealerRoleName(config.name, 'scheduled-run'),
    });
    bindTable(this.fn, 'sessions', {
      writer: 'scheduled-run',
      table: tables.sessions,
      key,
      actions: ['dynamodb:UpdateItem'],
    });
    bindTable(this.fn, 'inbox', { writer: 'scheduled-run', table: tables.inbox, key, actions: ['dynamodb:PutItem'] });
    bindTable(this.fn, 'events', {
      writer: 'scheduled-run',
      table: tables.events,
      key,
      actions: ['dynamodb:Query', 'dynamodb:PutItem'],
    });
    bindTable(this.fn, 'idempotency', {
      writer: 'scheduled-run',
      table: tables.idempotency,
      key,
      actions: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    });
    // Read only: a firing over budget is skipped (runtime/control-plane/scheduled-run.ts).
    bindTable(this.fn, 'usage', { table: tables.usage, key, actions: ['dynamodb:GetItem'] });
    bindLaunchSettings(this.fn, props.launcher);
    props.launcherFunction.allowInvokeBy(this.fn);
    bindRecordWriter(this.fn, config.name);

    this.deadLetterKey = createRetainedKey(this, 'DeadLetterKey', {
      description: "Cubicle: encrypts the scheduled runs' dead-letter queue",
    });
    this.deadLetters = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.deadLetterKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // Marks the queue as a dead-letter queue (Control Tower CT.SQS.PR.1 exempts those from having one).
      redriveAllowPolicy: { redrivePermission: sqs.RedrivePermission.ALLOW_ALL },
    });
    // Asynchronous runs (Scheduler invokes asynchronously): two retries with the same request id, which
    // the function turns into one message (runtime/control-plane/scheduled-run.ts); then the dead letters.
    this.fn.function.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(1) });
    (this.fn.function.node.defaultChild as lambda.CfnFunction).deadLetterConfig = {
      targetArn: this.deadLetters.queueArn,
    };
    allowSendTo(this.fn.role, this.deadLetters, this.deadLetterKey);
    Validations.of(this.deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is the dead-letter queue of the scheduled runs (Scheduler's deliveries and the function's asynchronous runs); a dead-letter queue has none of its own.",
    });

    const declared = declaredSchedules(config);
    const schedules = new Map<string, scheduler.CfnSchedule>();
    if (declared.length > 0) {
      const role = new iam.Role(this, 'SchedulerRole', {
        description: 'Cubicle: EventBridge Scheduler invokes the scheduled-run function, nothing else',
        assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
          // Only this account's schedules may use the role (confused deputy).
          conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
        }),
      });
      const policy = new iam.ManagedPolicy(this, 'SchedulerPolicy', {
        description: 'Cubicle: invoke the scheduled-run function; report undeliverable runs to the dead-letter queue',
        roles: [role],
        statements: [
          new iam.PolicyStatement({
            sid: 'InvokeScheduledRunFunction',
            actions: ['lambda:InvokeFunction'],
            resources: [this.fn.function.functionArn],
          }),
        ],
      });
      allowSendTo(policy, this.deadLetters, this.deadLetterKey);
      this.schedulerRole = role;

      for (const ref of declared) {
        const userScope =
          (this.node.tryFindChild(constructIdOf(ref.userId)) as Construct | undefined) ??
          new Construct(this, constructIdOf(ref.userId));
        const agentScope =
          (userScope.node.tryFindChild(constructIdOf(ref.agentId)) as Construct | undefined) ??
          new Construct(userScope, constructIdOf(ref.agentId));
        const schedule = new scheduler.CfnSchedule(agentScope, constructIdOf(ref.schedule.id), {
          description: `Cubicle: scheduled run ${ref.key}`,
          scheduleExpression: scheduleExpression(ref.schedule),
          scheduleExpressionTimezone: ref.schedule.cron !== undefined ? ref.schedule.timezone : undefined,
          flexibleTimeWindow: { mode: 'OFF' },
          state: 'ENABLED',
          target: {
            arn: this.fn.function.functionArn,
            roleArn: role.roleArn,
            // The firing's time names it: a second delivery of the same firing stores nothing more.
            input: JSON.stringify({ scheduleId: ref.key, scheduledTime: '<aws.scheduler.scheduled-time>' }),
            retryPolicy: { ...SCHEDULE_RETRY },
            deadLetterConfig: { arn: this.deadLetters.queueArn },
          },
        });
        schedule.node.addDependency(policy);
        schedules.set(ref.key, schedule);
      }
    }
    this.schedules = schedules;

    const ids = JSON.stringify(declared.map((d) => d.key));
    const bytes = Buffer.byteLength(ids, 'utf8');
    if (bytes > ADVANCED_PARAMETER_BYTES) {
      throw new Error(
        `${this.node.path}: the schedule ids take ${bytes} bytes, more than an SSM parameter holds (${ADVANCED_PARAMETER_BYTES}): declare fewer schedules or shorter ids`,
      );
    }
    for (const environment of config.github.environments) {
      const scope = new Construct(this, `Parameters-${environment}`);
      const path = invokeParameterPath(config, environment);
      this.parameters.push(
        new ssm.StringParameter(scope, 'FunctionName', {
          parameterName: `${path}${SCHEDULE_PARAMETERS.functionName}`,
          description: `Cubicle: the function GitHub environment ${environment} invokes for scheduled runs`,
          stringValue: invokeFunctionName(config),
        }),
        new ssm.StringParameter(scope, 'ScheduleIds', {
          parameterName: `${path}${SCHEDULE_PARAMETERS.scheduleIds}`,
          description: `Cubicle: the schedule ids (JSON list) the scheduled-run function accepts as {"scheduleId": ...}`,
          stringValue: ids,
          tier: bytes > STANDARD_PARAMETER_BYTES ? ssm.ParameterTier.ADVANCED : ssm.ParameterTier.STANDARD,
        }),
      );
    }
  }
}

/** SendMessage to the queue, and its key's data keys only through SQS (what a KMS-encrypted queue needs of a sender). */
function allowSendTo(target: iam.Role | iam.ManagedPolicy, queue: sqs.Queue, key: kms.Key): void {
  const statements = [
    new iam.PolicyStatement({
      sid: 'SendToDeadLetterQueue',
      actions: ['sqs:SendMessage'],
      resources: [queue.queueArn],
    }),
    new iam.PolicyStatement({
      sid: 'DeadLetterQueueKeyViaSqs',
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `sqs.${Stack.of(queue).region}.amazonaws.com` } },
    }),
  ];
  for (const statement of statements) {
    if (target instanceof iam.Role) target.addToPolicy(statement);
    else target.addStatements(statement);
  }
}
