import { describe, expect, it } from 'vitest';
import { declaredSchedules, SCHEDULE_PARAMETERS, SCHEDULE_RETRY } from '../../../lib/constructs/scheduled-runs';
import { invokeFunctionName, invokeParameterPath } from '../../../lib/constructs/pipeline-roles';
import { recordSealerRoleName } from '../../../runtime/shared/names';
import { exampleTemplates, resourcesOfType, type TemplateJson } from '../../support/assembly';
import { exampleConfig } from '../../support/example-config';
import { identityDecision } from '../../pipeline/fixture';

const config = exampleConfig();
const templates = exampleTemplates();
const cp = templates.get('acme-ControlPlane')!;
const pipeline = templates.get('acme-Pipeline')!;
const ACCOUNT = config.account;
const REGION = config.region;
const FUNCTION_NAME = invokeFunctionName(config);
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${FUNCTION_NAME}`;
const QUEUE_ARN = `arn:aws:sqs:${REGION}:${ACCOUNT}:dead-letters`;
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/dead-letter-key`;

function only(template: TemplateJson, type: string, pattern: RegExp): [string, any] {
  const found = resourcesOfType(template, type).filter(([id]) => pattern.test(id));
  expect(found, `${type} ${pattern}`).toHaveLength(1);
  return found[0] as [string, any];
}

const [fnId, fn] = only(cp, 'AWS::Lambda::Function', /^ScheduledRunsFunction[0-9A-F]{8}$/);
const [queueId, queue] = only(cp, 'AWS::SQS::Queue', /^ScheduledRunsDeadLetters[0-9A-F]{8}$/);
const [keyId] = only(cp, 'AWS::KMS::Key', /^ScheduledRunsDeadLetterKey[0-9A-F]{8}$/);
const [roleId, role] = only(cp, 'AWS::IAM::Role', /^ScheduledRunsSchedulerRole[0-9A-F]{8}$/);
const getAtt = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

/** The scheduler role's permissions with the stack's own ARNs put in (for the IAM evaluator). */
function schedulerPolicy(): any {
  const attached = resourcesOfType(cp, 'AWS::IAM::ManagedPolicy').filter(([, p]) =>
    (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId),
  );
  expect(attached).toHaveLength(1);
  const text = JSON.stringify(attached[0][1].Properties.PolicyDocument)
    .replaceAll(JSON.stringify(getAtt(fnId)), JSON.stringify(FUNCTION_ARN))
    .replaceAll(JSON.stringify(getAtt(queueId)), JSON.stringify(QUEUE_ARN))
    .replaceAll(JSON.stringify(getAtt(keyId)), JSON.stringify(KEY_ARN));
  return JSON.parse(text);
}

describe('scheduled runs in the ControlPlane template', () => {
  it('each declared schedule is one Scheduler schedule whose target, input, role, retries and dead-letter queue are exact', () => {
    const declared = declaredSchedules(config);
    expect(declared.map((d) => d.key)).toEqual(['alice/sales/morning-brief']);
    const schedules = resourcesOfType(cp, 'AWS::Scheduler::Schedule');
    expect(schedules.map(([id]) => id.replace(/[0-9A-F]{8}$/, ''))).toEqual(['ScheduledRunsAliceSalesMorningBrief']);
    expect(schedules[0][1].Properties).toEqual({
      Description: 'Cubicle: scheduled run alice/sales/morning-brief',
      ScheduleExpression: 'cron(0 8 ? * MON-FRI *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: {
        Arn: getAtt(fnId),
        RoleArn: getAtt(roleId),
        Input: JSON.stringify({
          scheduleId: 'alice/sales/morning-brief',
          scheduledTime: '<aws.scheduler.scheduled-time>',
        }),
        RetryPolicy: {
          MaximumRetryAttempts: SCHEDULE_RETRY.maximumRetryAttempts,
          MaximumEventAgeInSeconds: SCHEDULE_RETRY.maximumEventAgeInSeconds,
        },
        DeadLetterConfig: { Arn: getAtt(queueId) },
      },
    });
    // The schedule's text is not in the template: only the function's bundled roster holds it.
    expect(JSON.stringify(cp)).not.toContain("Summarize yesterday's new leads");
  });

  it("the function has the invoke role's name, the sealer role name, and the dead-letter queue for failed async runs", () => {
    expect(fn.Properties.FunctionName).toBe(FUNCTION_NAME);
    expect(fn.Properties.DeadLetterConfig).toEqual({ TargetArn: getAtt(queueId) });
    const fnRole = cp.Resources[fn.Properties.Role['Fn::GetAtt'][0]];
    expect(fnRole.Properties.RoleName).toBe(recordSealerRoleName(config.name, 'scheduled-run'));
  });

  it('the dead-letter queue is encrypted with its own key and refuses plain HTTP', () => {
    expect(queue.Properties.KmsMasterKeyId).toEqual(getAtt(keyId));
    const [, queuePolicy] = resourcesOfType(cp, 'AWS::SQS::QueuePolicy').find(
      ([, p]) => JSON.stringify(p.Properties.Queues) === JSON.stringify([{ Ref: queueId }]),
    )!;
    expect(queuePolicy.Properties.PolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Effect: 'Deny',
        Action: 'sqs:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    ]);
  });

  it('the scheduler role trusts only Scheduler of this account, has no inline policy, and its one policy is exact', () => {
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
      },
    ]);
    expect(role.Properties.Policies).toBeUndefined();
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(
      resourcesOfType(cp, 'AWS::IAM::Policy').filter(([, p]) =>
        (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId),
      ),
    ).toEqual([]);
    expect(schedulerPolicy().Statement).toEqual([
      { Sid: 'InvokeScheduledRunFunction', Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: FUNCTION_ARN },
      { Sid: 'SendToDeadLetterQueue', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: QUEUE_ARN },
      {
        Sid: 'DeadLetterQueueKeyViaSqs',
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: KEY_ARN,
        Condition: { StringEquals: { 'kms:ViaService': `sqs.${REGION}.amazonaws.com` } },
      },
    ]);
  });

  describe('the scheduler role, evaluated', () => {
    it('may invoke the scheduled-run function', async () => {
      expect(await identityDecision(schedulerPolicy(), 'lambda:InvokeFunction', FUNCTION_ARN)).toBe('Allowed');
    });
    it.each([
      ['the launcher', `arn:aws:lambda:${REGION}:${ACCOUNT}:function:acme-launcher`],
      ['another function', `arn:aws:lambda:${REGION}:${ACCOUNT}:function:anything-else`],
      ['an alias or version of the function', `${FUNCTION_ARN}:live`],
      ['the same name in another region', `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${FUNCTION_NAME}`],
    ])('may not invoke %s', async (_what, arn) => {
      expect(await identityDecision(schedulerPolicy(), 'lambda:InvokeFunction', arn)).toBe('ImplicitlyDenied');
    });
    it.each([
      'lambda:UpdateFunctionCode',
      'lambda:UpdateFunctionConfiguration',
      'lambda:AddPermission',
      'lambda:InvokeFunctionUrl',
      'lambda:GetFunction',
    ])('may not %s the function', async (action) => {
      expect(await identityDecision(schedulerPolicy(), action, FUNCTION_ARN)).toBe('ImplicitlyDenied');
    });
    it('may send to the dead-letter queue only, and may not read it', async () => {
      expect(await identityDecision(schedulerPolicy(), 'sqs:SendMessage', QUEUE_ARN)).toBe('Allowed');
      expect(
        await identityDecision(schedulerPolicy(), 'sqs:SendMessage', `arn:aws:sqs:${REGION}:${ACCOUNT}:other`),
      ).toBe('ImplicitlyDenied');
      expect(await identityDecision(schedulerPolicy(), 'sqs:ReceiveMessage', QUEUE_ARN)).toBe('ImplicitlyDenied');
    });
  });

  it("creates the SSM parameters each environment's invoke role reads", () => {
    const parameters = resourcesOfType(cp, 'AWS::SSM::Parameter').map(([, p]) => [
      p.Properties.Name,
      p.Properties.Value,
    ]);
    for (const environment of config.github.environments) {
      const path = invokeParameterPath(config, environment);
      expect(parameters).toContainEqual([`${path}${SCHEDULE_PARAMETERS.functionName}`, FUNCTION_NAME]);
      expect(parameters).toContainEqual([
        `${path}${SCHEDULE_PARAMETERS.scheduleIds}`,
        JSON.stringify(['alice/sales/morning-brief']),
      ]);
    }
  });
});

describe("the pipeline invoke role's target", () => {
  it('exists in the synthesized app: the one function the invoke role may call is the scheduled-run function', () => {
    const invokeStatements = resourcesOfType(pipeline, 'AWS::IAM::ManagedPolicy')
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Sid?: string; Resource: unknown }[])
      .filter((s) => s.Sid === 'InvokeScheduledRunFunction');
    expect(invokeStatements.length).toBe(config.github.environments.length);
    for (const statement of invokeStatements) expect(statement.Resource).toBe(FUNCTION_ARN);
    const named = [...templates.values()]
      .flatMap((t) => resourcesOfType(t, 'AWS::Lambda::Function'))
      .filter(([, f]) => f.Properties.FunctionName === FUNCTION_NAME);
    expect(named).toHaveLength(1);
    expect(named[0][0]).toBe(fnId);
  });
});
