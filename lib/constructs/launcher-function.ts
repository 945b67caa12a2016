import { Duration, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TableName } from '../../runtime/shared/tables';
import { CubicleFunction } from './cubicle-function';
import { bindLaunchInvoker, bindTable, bindTaskStarter, LauncherOptions } from './control-plane-grants';
import { FunctionBase } from './employee-api';

export interface LauncherFunctionProps {
  readonly base: FunctionBase;
  readonly tables: Record<TableName, dynamodb.ITable>;
  readonly tableKey: kms.IKey;
  readonly launcher: LauncherOptions;
}

/**
 * The launcher (runtime/control-plane/launcher.ts): the only role with ecs:RunTask and iam:PassRole for the
 * pairs. No API route, URL or resource policy invokes it; only the roles granted by `allowInvokeBy` (and
 * an account administrator, who can start nothing but a STARTING session's own task definition, without
 * overrides, through it). Its role is what the security-event rule expects every Cubicle RunTask from.
 */
export class LauncherFunction extends Construct {
  readonly fn: CubicleFunction;

  constructor(scope: Construct, id: string, props: LauncherFunctionProps) {
    super(scope, id);
    const { tables, tableKey: key } = props;
    this.fn = new CubicleFunction(this, 'Function', {
      ...props.base,
      handler: 'launcher',
      description: 'launcher: runs the task of a STARTING session (RunTask, PassRole), never an override',
    });
    bindTable(this.fn, 'sessions', {
      writer: 'launcher',
      table: tables.sessions,
      key,
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    });
    bindTable(this.fn, 'events', {
      writer: 'launcher',
      table: tables.events,
      key,
      actions: ['dynamodb:Query', 'dynamodb:PutItem'],
    });
    bindTaskStarter(this.fn, props.launcher);
    // Asynchronous invocations: Lambda retries twice; RunTask's clientToken (the session id) and the row's
    // conditions make a retry start nothing twice. Older requests are worthless (the reaper fails the session).
    this.fn.function.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.minutes(10) });
    Validations.of(this.fn.function).acknowledge({
      id: 'NIST.800.53.R5-LambdaDLQ',
      reason:
        'A launch that fails is recorded on its session (FAILED, with the reason, and a lifecycle.failed event); one that never runs leaves the session STARTING, which the reaper fails after 10 minutes. A dead-letter queue would hold only ids.',
    });
  }

  /** Lets a function invoke the launcher (and tells it the launcher's name). */
  allowInvokeBy(caller: CubicleFunction): void {
    bindLaunchInvoker(caller, this.fn);
  }
}
