import { Duration, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { STARTED_BY } from '../../runtime/shared/names';
import { TableName } from '../../runtime/shared/tables';
import { CubicleFunction } from './cubicle-function';
import { bindTable, bindTaskObserver, bindTaskStopper, LauncherOptions } from './control-plane-grants';
import { FunctionBase } from './employee-api';
import type { LauncherFunction } from './launcher-function';

export interface LifecycleFunctionsProps {
  readonly base: FunctionBase;
  readonly cluster: ecs.ICluster;
  readonly tables: Record<TableName, dynamodb.ITable>;
  readonly tableKey: kms.IKey;
  readonly launcher: LauncherOptions;
  /** A pending wake starts through it when a task has stopped (task events, reaper). */
  readonly launcherFunction: LauncherFunction;
}

/** The reaper's tick stops starting work 10 s before this; the next tick starts a minute after the last. */
export const REAPER_TIMEOUT = Duration.seconds(55);

/**
 * What moves sessions without an employee asking: the task state events of the cluster (RUNNING,
 * STOPPED) and the reaper, every minute. Both are idempotent (conditional writes), so a retried or
 * duplicated invocation changes nothing twice.
 */
export class LifecycleFunctions extends Construct {
  readonly taskEvents: CubicleFunction;
  readonly reaper: CubicleFunction;
  readonly taskEventRule: events.Rule;
  readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: LifecycleFunctionsProps) {
    super(scope, id);
    const { tables, tableKey: key } = props;

    this.taskEvents = new CubicleFunction(this, 'TaskEventsFunction', {
      ...props.base,
      handler: 'task-events',
      description: 'ECS task state changes to session rows',
    });
    bindTable(this.taskEvents, 'sessions', {
      writer: 'task-events',
      table: tables.sessions,
      key,
      actions: ['dynamodb:UpdateItem'],
    });
    bindTable(this.taskEvents, 'events', {
      writer: 'task-events',
      table: tables.events,
      key,
      actions: ['dynamodb:Query', 'dynamodb:PutItem'],
    });
    // A wake that arrived while the task was stopping starts the next session from the STOPPED event.
    bindTaskStopper(this.taskEvents, props.launcher);
    props.launcherFunction.allowInvokeBy(this.taskEvents);

    this.taskEventRule = new events.Rule(this, 'TaskStateChanges', {
      description: 'Cubicle: RUNNING and STOPPED of the tasks the control plane started',
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: {
          clusterArn: [props.cluster.clusterArn],
          lastStatus: ['RUNNING', 'STOPPED'],
          startedBy: [STARTED_BY],
        },
      },
      targets: [
        new targets.LambdaFunction(this.taskEvents.function, { retryAttempts: 8, maxEventAge: Duration.hours(2) }),
      ],
    });

    this.reaper = new CubicleFunction(this, 'ReaperFunction', {
      ...props.base,
      handler: 'reaper',
      description: 'reaper: deadlines, idle agents, stuck starts, orphan tasks',
      timeout: REAPER_TIMEOUT,
    });
    bindTable(this.reaper, 'sessions', {
      writer: 'reaper',
      table: tables.sessions,
      key,
      actions: ['dynamodb:UpdateItem'],
      queryActiveIndex: true,
    });
    bindTable(this.reaper, 'events', {
      writer: 'reaper',
      table: tables.events,
      key,
      actions: ['dynamodb:Query', 'dynamodb:PutItem'],
    });
    bindTaskStopper(this.reaper, props.launcher);
    props.launcherFunction.allowInvokeBy(this.reaper);
    bindTaskObserver(this.reaper, props.cluster);

    this.schedule = new events.Rule(this, 'ReaperSchedule', {
      description: 'Cubicle: reaper tick',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      // A failed tick is not retried: the next one comes in a minute and plans from fresh state.
      targets: [new targets.LambdaFunction(this.reaper.function, { retryAttempts: 0 })],
    });

    for (const fn of [this.taskEvents, this.reaper]) {
      Validations.of(fn).acknowledge({
        id: 'NIST.800.53.R5-LambdaDLQ',
        reason:
          'Invocations are idempotent and self-healing: a lost task event is recovered by the reaper (stuck STARTING fails after 10 min, unconfirmed STOPPING is finalized, orphan tasks are stopped), and a lost reaper tick is repeated a minute later.',
      });
    }
    Validations.of(this.reaper.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ecs:ListTasks has no task resource to scope (it is conditioned on ecs:cluster); X-Ray and the Lambda VPC network-interface actions support only "*".',
    });
  }
}
