import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ACTIVE_INDEX, TABLES } from '../../runtime/shared/tables';
import { CUSTOM_CREDENTIAL_PATTERNS } from '../../lib/constructs/credential-masking';
import { Redactor } from '../../runtime/shared/redact';
import { exampleTemplate, exampleTemplates, resourcesOfType } from '../support/assembly';
import { tokenSample } from '../support/token-samples';

const template = exampleTemplate('acme-Platform');
const json = exampleTemplates().get('acme-Platform')!;

describe('platform key', () => {
  it('rotates, is retained, and only AWS services may create grants on it', () => {
    template.hasResource('AWS::KMS::Key', {
      Properties: {
        Description: 'Cubicle: encrypts agent logs, control-plane tables and EFS',
        EnableKeyRotation: true,
        KeyPolicy: {
          Statement: Match.arrayWith([
            {
              Sid: 'DenyGrantsExceptForAwsServices',
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 'kms:CreateGrant',
              Resource: '*',
              Condition: {
                BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
              },
            },
          ]),
        },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });
});

describe('ECS cluster', () => {
  it('has Container Insights in enhanced mode', () => {
    template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enhanced' }],
    });
  });
});

describe('agent log group', () => {
  const [, logGroup] = resourcesOfType(json, 'AWS::Logs::LogGroup').find(([id]) => id.startsWith('AgentLogs'))!;

  it('is encrypted with the platform key, retained, with the configured retention', () => {
    expect(logGroup.Properties.RetentionInDays).toBe(365);
    expect(logGroup.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^PlatformKey/), 'Arn'] });
    expect(logGroup.DeletionPolicy).toBe('Retain');
    expect(logGroup.UpdateReplacePolicy).toBe('Retain');
  });

  it('masks AWS keys, private keys and provider token shapes', () => {
    const policy = logGroup.Properties.DataProtectionPolicy;
    const identifiers = [
      ...['AwsSecretKey', 'OpenSshPrivateKey', 'PgpPrivateKey', 'PkcsPrivateKey', 'PuttyPrivateKey'].map(
        (id) => `arn:aws:dataprotection::aws:data-identifier/${id}`,
      ),
      ...CUSTOM_CREDENTIAL_PATTERNS.map(([name]) => name),
    ];
    const deidentify = policy.Statement.find((s: any) => s.Operation.Deidentify);
    expect(deidentify.DataIdentifier).toEqual(identifiers);
    expect(deidentify.Operation.Deidentify).toEqual({ MaskConfig: {} });
    expect(policy.Configuration.CustomDataIdentifier).toEqual(
      CUSTOM_CREDENTIAL_PATTERNS.map(([Name, Regex]) => ({ Name, Regex })),
    );
  });

  it('masks the token shapes it claims to (regexes tested against samples)', () => {
    for (const [name, regex] of CUSTOM_CREDENTIAL_PATTERNS) {
      expect(new RegExp(regex).test(`token=${tokenSample(name)}`), name).toBe(true);
    }
    expect(new RegExp(CUSTOM_CREDENTIAL_PATTERNS[0][1]).test('sk-ant-short')).toBe(false);
  });

  it('masks nothing the runtime redactor would let through (CloudWatch is the second layer, not the only one)', () => {
    const redactor = new Redactor();
    for (const [name] of CUSTOM_CREDENTIAL_PATTERNS) {
      const sample = tokenSample(name);
      const line = `{"msg":"calling tool","token":"${sample}"}`;
      expect(redactor.redact(line), name).not.toContain(sample.slice(-12));
    }
  });
});

describe('task execution role', () => {
  it('is assumable only by ECS tasks acting for this account', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'ecs-tasks.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              ArnLike: { 'aws:SourceArn': Match.anyValue() },
            },
          },
        ],
      },
    });
  });

  it('may pull the agent image and write agent logs, nothing else (no secrets)', () => {
    const policies = resourcesOfType(json, 'AWS::IAM::Policy').filter(([id]) => id.startsWith('TaskExecutionRole'));
    expect(policies).toHaveLength(1);
    expect(policies[0][1].Properties.PolicyDocument.Statement).toEqual([
      {
        Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        Effect: 'Allow',
        Resource: 'arn:aws:ecr:eu-west-1:111111111111:repository/cdk-hnb659fds-container-assets-111111111111-eu-west-1',
      },
      { Action: 'ecr:GetAuthorizationToken', Effect: 'Allow', Resource: '*' },
      {
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^AgentLogsLogGroup/), 'Arn'] },
      },
    ]);
  });
});

describe('control-plane tables', () => {
  const tables = resourcesOfType(json, 'AWS::DynamoDB::Table');

  it("are the registry's seven tables, partitioned by pair key (Connections by connection or pair, Usage by user), with the documented sort keys", () => {
    const byId = Object.fromEntries(tables.map(([id, r]) => [id.replace(/[A-F0-9]{8}$/, ''), r.Properties.KeySchema]));
    for (const spec of Object.values(TABLES)) {
      const expected = [{ AttributeName: 'pk', KeyType: 'HASH' }];
      if ('sortKey' in spec) expected.push({ AttributeName: 'sk', KeyType: 'RANGE' });
      expect(byId[`Tables${spec.id}`]).toEqual(expected);
    }
    expect(tables).toHaveLength(Object.keys(TABLES).length);
    expect(tables).toHaveLength(7);
  });

  it('are on-demand, point-in-time recoverable, deletion-protected, KMS-encrypted and retained', () => {
    for (const [, table] of tables) {
      expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
      expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(table.Properties.DeletionProtectionEnabled).toBe(true);
      expect(table.Properties.SSESpecification).toEqual({
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^PlatformKey/), 'Arn'] },
      });
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.UpdateReplacePolicy).toBe('Retain');
    }
  });

  it('Sessions has the sparse active index keyed by shard', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: ACTIVE_INDEX.name,
          KeySchema: [
            { AttributeName: ACTIVE_INDEX.partitionKey, KeyType: 'HASH' },
            { AttributeName: 'pk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });
});
