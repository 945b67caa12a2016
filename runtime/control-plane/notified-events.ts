/**
 * Which events mail the employee (runtime/control-plane/notifications.ts), apart from the mailing: the audit archiver
 * reads this for every new event, and importing the notifier's module would load its DynamoDB and SES code into the
 * archiver's first call (issue 15).
 */

/** The event types that mail the employee: the subject and the one line of each (agent id filled in). */
export const NOTIFIED_EVENTS: Readonly<
  Record<string, { readonly subject: (agent: string) => string; readonly line: (agent: string) => string }>
> = {
  'approval.requested': {
    subject: (agent) => `Cubicle: ${agent} is waiting for your approval`,
    line: (agent) =>
      `Your agent ${agent} wants to reach the outside world and is waiting for you to approve or deny it. Requests expire after about 10 minutes.`,
  },
  'message.failed': {
    subject: (agent) => `Cubicle: ${agent} could not finish a message`,
    line: (agent) =>
      `Your agent ${agent} could not finish one of your messages. The console shows what happened and a request id to quote to your platform team.`,
  },
  'lifecycle.failed': {
    subject: (agent) => `Cubicle: ${agent} could not start`,
    line: (agent) =>
      `Your agent ${agent} could not start or stopped unexpectedly. Your messages are kept and run at its next start.`,
  },
  'budget.threshold': {
    subject: (agent) => `Cubicle: ${agent} is close to its budget`,
    line: (agent) =>
      `Your agent ${agent} has used most of this month's budget. New messages are refused once the budget is reached.`,
  },
};

export function isNotified(type: string): boolean {
  return Object.hasOwn(NOTIFIED_EVENTS, type);
}

/** What the archiver hands over per notified row: no data, only where it is and what kind it is. */
export interface NotifyRequest {
  readonly pk: string;
  readonly sk: number;
  readonly type: string;
}
