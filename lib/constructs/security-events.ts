import { Aws, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { agentRolePath, secretNamePrefix, taskFamilyPrefix, userKeyAlias } from '../../runtime/shared/names';
import { createRetainedKey } from './retained-key';

export interface SecurityEventsProps {
  readonly deployment: string;
  /** The launcher's role: the one principal whose RunTask of a Cubicle family is expected. */
  readonly launcherRole: iam.IRole;
  /** The credential writer's role: the one principal whose PutSecretValue is expected. */
  readonly credentialWriterRole: iam.IRole;
  /** Stacks whose functions' code or configuration must not change outside a deploy (their names prefix the functions'). */
  readonly functionStackName: string;
}

/** One detection: its id, what it means for an operator, and the CloudTrail events it matches. */
export interface SecurityEventRule {
  readonly id: string;
  readonly meaning: string;
  readonly detail: Record<string, unknown>;
}

/**
 * What an account administrator can still do and Cubicle cannot prevent inside one account, raised as
 * security events the moment CloudTrail records it (docs/isolation-claims.md claim 3; README "What an account
 * administrator can and cannot do"): an encrypted SNS topic (output `SecurityEventsTopicArn`) receives one
 * message per matching API call. EventBridge receives "AWS API Call via CloudTrail" events only while a
 * CloudTrail trail is logging in the account and region (an organization trail counts; `audit.trail: true`
 * adds one): without a trail, no alert arrives. Changes a CloudFormation deploy makes (key and secret
 * policies, roles) are raised too: an operator compares them with the deploy that ran.
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html
 */
export class SecurityEvents extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.Key;
  readonly rules: ReadonlyMap<string, events.Rule>;

  constructor(scope: Construct, id: string, props: SecurityEventsProps) {
    super(scope, id);
    this.key = createRetainedKey(this, 'Key', { description: 'Cubicle: encrypts the security-event topic' });
    // EventBridge publishes to the encrypted topic with this key (SNS asks KMS for data keys as the publisher);
    // which rules may publish is the topic policy's business (the targets below add it).
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgePublishes',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: `Cubicle ${props.deployment} security events`,
      masterKey: this.key,
      enforceSSL: true,
    });

    const rules = new Map<string, events.Rule>();
    for (const rule of securityEventRules(Stack.of(this), props)) {
      const created = new events.Rule(this, rule.id, {
        description: `Cubicle security event: ${rule.meaning}`.slice(0, 512),
        eventPattern: { detailType: ['AWS API Call via CloudTrail'], detail: rule.detail },
        targets: [
          new targets.SnsTopic(this.topic, {
            message: events.RuleTargetInput.fromObject({
              securityEvent: rule.id,
              meaning: rule.meaning,
              eventName: events.EventField.fromPath('$.detail.eventName'),
              who: events.EventField.fromPath('$.detail.userIdentity.arn'),
              time: events.EventField.fromPath('$.time'),
              request: events.EventField.fromPath('$.detail.requestParameters'),
            }),
          }),
        ],
      });
      rules.set(rule.id, created);
    }
    this.rules = rules;
  }
}

/** The detections, as data: the construct creates one rule each and the tests read them back. */
export function securityEventRules(stack: Stack, props: SecurityEventsProps): SecurityEventRule[] {
  const { deployment } = props;
  const account = Aws.ACCOUNT_ID;
  const partition = Aws.PARTITION;
  const families = [
    { prefix: taskFamilyPrefix(deployment) },
    { wildcard: `*:task-definition/${taskFamilyPrefix(deployment)}*` },
  ];
  const sessionOf = (role: iam.IRole) => `arn:${partition}:sts::${account}:assumed-role/${role.roleName}/`;
  const cubicleSecrets = [
    { prefix: secretNamePrefix(deployment) },
    { wildcard: `*:secret:${secretNamePrefix(deployment)}*` },
  ];
  return [
    {
      id: 'RunTaskNotByLauncher',
      meaning: `a task of a Cubicle family (${taskFamilyPrefix(deployment)}*) was started by someone other than the launcher: it may run a pair's role and read its secrets`,
      detail: {
        eventSource: ['ecs.amazonaws.com'],
        eventName: ['RunTask', 'StartTask'],
        requestParameters: { taskDefinition: families },
        userIdentity: { arn: [{ 'anything-but': { prefix: sessionOf(props.launcherRole) } }] },
      },
    },
    {
      id: 'RunTaskWithOverrides',
      meaning:
        'a task of a Cubicle family was started with overrides (command, environment or role): the launcher never sends any',
      detail: {
        eventSource: ['ecs.amazonaws.com'],
        eventName: ['RunTask', 'StartTask'],
        requestParameters: { taskDefinition: families, overrides: [{ exists: true }] },
      },
    },
    {
      id: 'TaskDefinitionWithAgentRole',
      meaning:
        "a task definition naming a Cubicle agent role was registered: a task of it would hold that pair's identity",
      detail: {
        eventSource: ['ecs.amazonaws.com'],
        eventName: ['RegisterTaskDefinition'],
        requestParameters: { taskRoleArn: [{ wildcard: `*:role${agentRolePath(deployment)}*` }] },
      },
    },
    {
      id: 'UserKeyAliasChanged',
      meaning:
        'a Cubicle user key alias was created, re-pointed or deleted: the control plane resolves user keys by alias',
      detail: {
        eventSource: ['kms.amazonaws.com'],
        eventName: ['CreateAlias', 'UpdateAlias', 'DeleteAlias'],
        requestParameters: { aliasName: [{ prefix: userKeyAlias(deployment, '') }] },
      },
    },
    {
      id: 'KeyPolicyChanged',
      meaning:
        "a KMS key policy changed or a key was disabled or scheduled for deletion: if it is a Cubicle user key, its users' tokens and messages may now be readable by others (or lost)",
      detail: {
        eventSource: ['kms.amazonaws.com'],
        eventName: ['PutKeyPolicy', 'DisableKey', 'ScheduleKeyDeletion', 'CreateGrant'],
      },
    },
    {
      id: 'VaultSecretChanged',
      meaning:
        "a Cubicle vault secret's policy or settings changed, or a value was written by someone other than the credential writer",
      detail: {
        eventSource: ['secretsmanager.amazonaws.com'],
        $or: [
          {
            eventName: [
              'PutResourcePolicy',
              'DeleteResourcePolicy',
              'UpdateSecret',
              'RestoreSecret',
              'ReplicateSecretToRegions',
            ],
          },
          {
            eventName: ['PutSecretValue'],
            userIdentity: { arn: [{ 'anything-but': { prefix: sessionOf(props.credentialWriterRole) } }] },
          },
        ],
        requestParameters: { secretId: cubicleSecrets },
      },
    },
    {
      id: 'ControlPlaneCodeChanged',
      meaning:
        "a Cubicle control-plane function's code or configuration changed: code that runs as the API or launcher role reads what they read",
      detail: {
        eventSource: ['lambda.amazonaws.com'],
        eventName: [
          { prefix: 'UpdateFunctionCode' },
          { prefix: 'UpdateFunctionConfiguration' },
          { prefix: 'AddPermission' },
        ],
        requestParameters: { functionName: [{ wildcard: `*${props.functionStackName}-*` }] },
      },
    },
    {
      id: 'CubicleRoleChanged',
      meaning:
        'the trust or policies of a Cubicle role changed, or one was deleted or created: a role created again under a Cubicle name gets nothing from user keys and secrets, but may from the tables',
      detail: {
        eventSource: ['iam.amazonaws.com'],
        eventName: [
          'CreateRole',
          'DeleteRole',
          'UpdateAssumeRolePolicy',
          'PutRolePolicy',
          'AttachRolePolicy',
          'DeleteRolePolicy',
          'PutRolePermissionsBoundary',
        ],
        requestParameters: { roleName: [{ prefix: `${deployment}-` }] },
      },
    },
  ];
}
