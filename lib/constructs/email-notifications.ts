import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as ses from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';
import { ENV } from '../../runtime/shared/function-contract';
import type { CubicleConfig } from '../config/schema';
import { CubicleFunction } from './cubicle-function';
import { bindTable } from './control-plane-grants';
import type { FunctionBase } from './employee-api';

export interface EmailNotificationsProps {
  readonly base: FunctionBase;
  readonly config: CubicleConfig;
  /** Sender, and the identity to send through (imported when the config names one). */
  readonly email: { readonly from: string; readonly identityArn?: string };
  /** The roster directory (users' addresses), bundled as roster.json. */
  readonly rosterFile: string;
  readonly idempotencyTable: dynamodb.ITable;
  readonly tableKey: kms.IKey;
  /** The audit archiver: it hands notified events to the notifier. */
  readonly archiver: CubicleFunction;
  /** The console's address, for the link in every mail. */
  readonly consoleUrl: string;
}

/**
 * Email notifications (config `notifications.email`; runtime/control-plane/notifications.ts): the notifier
 * function, the SES identity it sends through (created for the sender address, or imported), and the
 * archiver's right to hand it events. The notifier may send only from the configured address
 * (`ses:FromAddress`), through that identity, and read nothing of any employee's records.
 */
export class EmailNotifications extends Construct {
  readonly notifier: CubicleFunction;
  readonly identityArn: string;

  constructor(scope: Construct, id: string, props: EmailNotificationsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { from } = props.email;
    if (props.email.identityArn) {
      this.identityArn = props.email.identityArn;
    } else {
      // SES mails a verification link to this address once; until it is followed, sending fails (logged).
      const identity = new ses.CfnEmailIdentity(this, 'Identity', { emailIdentity: from });
      this.identityArn = stack.formatArn({ service: 'ses', resource: 'identity', resourceName: identity.ref });
    }
    this.notifier = new CubicleFunction(this, 'Function', {
      ...props.base,
      handler: 'notifier',
      description:
        'email notifications: tells an employee that an agent waits for an approval, failed, or nears its budget',
      rosterFile: props.rosterFile,
      timeout: Duration.seconds(30),
    });
    const fn = this.notifier;
    fn.setEnv(ENV.mailFrom, from);
    fn.setEnv(ENV.consoleUrl, props.consoleUrl);
    // Its dedupe and rate rows only (runtime/control-plane/notifications.ts).
    bindTable(fn, 'idempotency', {
      writer: 'notifier',
      table: props.idempotencyTable,
      key: props.tableKey,
      actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
    });
    fn.allow(
      new iam.PolicyStatement({
        sid: 'SendFromThePlatformAddressOnly',
        actions: ['ses:SendEmail'],
        resources: [this.identityArn],
        conditions: { StringEquals: { 'ses:FromAddress': from } },
      }),
    );
    // An asynchronous invoke: Lambda retries a failed send twice, then drops it (a notification, not a record).
    fn.function.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(1) });
    Validations.of(fn.function).acknowledge({
      id: 'NIST.800.53.R5-LambdaDLQ',
      reason:
        "A mail that cannot be sent after the retries is logged and dropped: the event itself is on the agent's chain and in the audit archive, and the console shows it. A dead-letter queue would hold only ids.",
    });
    props.archiver.allow(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.function.functionArn] }),
    );
    props.archiver.setEnv(ENV.notifierFunction, fn.function.functionName);
  }
}
