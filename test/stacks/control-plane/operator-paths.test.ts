import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../lib/config/load';
import { exampleTemplates, readTemplates, resourcesOfType } from '../../support/assembly';
import { minimalConfigText } from '../../support/example-config';
import { synthesize } from '../../support/synth';
import { functionOf, statementsOf } from './support/template';
import { TABLES } from '../../../runtime/shared/tables';

/**
 * Template facts behind README "What an account administrator can and cannot do": the API's role is the
 * named record sealer with exactly its key statements, the security events are raised to an encrypted
 * topic with these patterns, and the optional trail records table data events.
 */

const templates = exampleTemplates();
const json = templates.get('acme-ControlPlane')!;

describe('the API function as the record sealer', () => {
  it("runs as acme-api and may seal and open records only under keys aliased for this deployment, with exactly the records' context keys", () => {
    const roleId = functionOf(json, 'api').resource.Properties.Role['Fn::GetAtt'][0];
    expect(json.Resources[roleId].Properties.RoleName).toBe('acme-api');
    const kms = statementsOf(json, 'api').filter((s) =>
      JSON.stringify(s.Condition ?? {}).includes('kms:ResourceAliases'),
    );
    const keys = 'arn:aws:kms:eu-west-1:111111111111:key/*';
    const aliases = { 'ForAnyValue:StringLike': { 'kms:ResourceAliases': 'alias/cubicle/acme/*' } };
    expect(kms).toEqual([
      { Effect: 'Allow', Action: 'kms:DescribeKey', Resource: keys, Condition: aliases },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: keys,
        Condition: {
          ...aliases,
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['user_id', 'agent_id', 'record'] },
          Null: { 'kms:EncryptionContextKeys': 'false' },
        },
      },
    ]);
    for (const name of ['credentials', 'task-events', 'reaper', 'launcher'] as const) {
      expect(
        statementsOf(json, name).filter((s) => JSON.stringify(s.Condition ?? {}).includes('EncryptionContextKeys')),
        name,
      ).toEqual([]);
    }
  });
});

describe('security events', () => {
  const rules = resourcesOfType(json, 'AWS::Events::Rule').filter(([id]) => id.startsWith('SecurityEvents'));
  const pattern = (name: string) =>
    rules.find(([id]) => id.startsWith(`SecurityEvents${name}`))![1].Properties.EventPattern;
  const launcherRoleId = functionOf(json, 'launcher').resource.Properties.Role['Fn::GetAtt'][0];

  it('raises RunTask of a Cubicle family by anyone but the launcher, and any RunTask of one with overrides', () => {
    expect(rules.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(
      [
        'ControlPlaneCodeChanged',
        'CubicleRoleChanged',
        'KeyPolicyChanged',
        'RunTaskNotByLauncher',
        'RunTaskWithOverrides',
        'TaskDefinitionWithAgentRole',
        'UserKeyAliasChanged',
        'VaultSecretChanged',
      ].map((r) => `SecurityEvents${r}`),
    );
    const families = [{ prefix: 'acme-' }, { wildcard: '*:task-definition/acme-*' }];
    expect(pattern('RunTaskNotByLauncher')).toEqual({
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['ecs.amazonaws.com'],
        eventName: ['RunTask', 'StartTask'],
        requestParameters: { taskDefinition: families },
        userIdentity: {
          arn: [
            {
              'anything-but': {
                prefix: {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      ':sts::',
                      { Ref: 'AWS::AccountId' },
                      ':assumed-role/',
                      { Ref: launcherRoleId },
                      '/',
                    ],
                  ],
                },
              },
            },
          ],
        },
      },
    });
    expect(pattern('RunTaskWithOverrides').detail.requestParameters).toEqual({
      taskDefinition: families,
      overrides: [{ exists: true }],
    });
    expect(pattern('TaskDefinitionWithAgentRole').detail.requestParameters).toEqual({
      taskRoleArn: [{ wildcard: '*:role/cubicle/acme/agents/*' }],
    });
    expect(pattern('UserKeyAliasChanged').detail.requestParameters).toEqual({
      aliasName: [{ prefix: 'alias/cubicle/acme/' }],
    });
    expect(pattern('KeyPolicyChanged').detail.eventName).toEqual([
      'PutKeyPolicy',
      'DisableKey',
      'ScheduleKeyDeletion',
      'CreateGrant',
    ]);
  });

  it('sends each to an encrypted topic whose ARN is an output', () => {
    const [[topicId, topic]] = resourcesOfType(json, 'AWS::SNS::Topic');
    expect(topic.Properties.KmsMasterKeyId).toBeDefined();
    for (const [id, rule] of rules)
      expect(
        rule.Properties.Targets.map((t: { Arn: unknown }) => t.Arn),
        id,
      ).toEqual([{ Ref: topicId }]);
    expect((json.Outputs as Record<string, { Value: unknown }>).SecurityEventsTopicArn.Value).toEqual({ Ref: topicId });
    // EventBridge can publish: the topic policy lets it, and the topic's key lets it encrypt (else no alert arrives).
    const [[, topicPolicy]] = resourcesOfType(json, 'AWS::SNS::TopicPolicy');
    expect(topicPolicy.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Action: 'sns:Publish',
        Principal: { Service: 'events.amazonaws.com' },
      }),
    );
    const keyId = topic.Properties.KmsMasterKeyId['Fn::GetAtt'][0];
    expect(json.Resources[keyId].Properties.KeyPolicy.Statement).toContainEqual({
      Sid: 'EventBridgePublishes',
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: '*',
    });
    expect(json.Resources[keyId]).toMatchObject({ DeletionPolicy: 'Retain', Properties: { EnableKeyRotation: true } });
  });
});

describe('audit trail (audit.trail)', () => {
  it("is off by default; on, it records management events and the tables' item reads and writes, encrypted, validated, retained", () => {
    expect(resourcesOfType(templates.get('acme-Platform')!, 'AWS::CloudTrail::Trail')).toEqual([]);
    const platform = readTemplates(
      synthesize(parseConfigText(minimalConfigText({ audit: '{ trail: true }' }), 'x.yaml')).outdir,
    ).get('acme-Platform')!;
    const [[, trail]] = resourcesOfType(platform, 'AWS::CloudTrail::Trail');
    expect(trail.Properties).toMatchObject({
      EnableLogFileValidation: true,
      IsLogging: true,
      KMSKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^AuditKey/), 'Arn'] },
    });
    expect(trail.Properties.AdvancedEventSelectors.map((s: { FieldSelectors: unknown[] }) => s.FieldSelectors)).toEqual(
      [
        [{ Field: 'eventCategory', Equals: ['Management'] }],
        [
          { Field: 'eventCategory', Equals: ['Data'] },
          { Field: 'resources.type', Equals: ['AWS::DynamoDB::Table'] },
          // Every control-plane table (runtime/shared/tables.ts).
          {
            Field: 'resources.ARN',
            Equals: Object.values(TABLES).map((t) => ({
              'Fn::GetAtt': [expect.stringMatching(new RegExp(`^Tables${t.id}`)), 'Arn'],
            })),
          },
        ],
      ],
    );
    const [[, bucket]] = resourcesOfType(platform, 'AWS::S3::Bucket');
    expect(bucket).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: { ObjectLockEnabled: true, VersioningConfiguration: { Status: 'Enabled' } },
    });
  });
});
