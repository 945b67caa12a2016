import { describe, expect, it } from 'vitest';
import { exampleTemplates, resourcesOfType } from '../../support/assembly';
import {
  actionsOf,
  FUNCTION_IDS,
  functionOf,
  granting,
  roleIdOf,
  statementsOf,
  type FunctionName,
} from './support/template';

/**
 * The audit archive as synthesized for the bundled example (docs/isolation-claims.md claim 8): the chain key
 * is an HMAC key whose GenerateMac only the event appenders have, the archive is an Object Lock bucket in
 * compliance mode that only the stream consumer writes, and the consumer reads the Events stream.
 */
const json = exampleTemplates().get('acme-ControlPlane')!;
const fleet = exampleTemplates().get('acme-Fleet-01')!;
const keys = resourcesOfType(json, 'AWS::KMS::Key');
const [, chainKey] = keys.find(([, k]) => k.Properties.KeySpec === 'HMAC_256')!;
const [bucketId, bucket] = resourcesOfType(json, 'AWS::S3::Bucket').find(
  ([, b]) => b.Properties.ObjectLockConfiguration?.Rule?.DefaultRetention?.Mode === 'COMPLIANCE',
)!;
const statement = (sid: string) => chainKey.Properties.KeyPolicy.Statement.find((s: { Sid?: string }) => s.Sid === sid);
const FUNCTIONS = Object.keys(FUNCTION_IDS) as FunctionName[];

describe('the audit chain key', () => {
  it('is a retained HMAC_256 key: GenerateMac for exactly the functions that append events, VerifyMac for the account, nothing else', () => {
    expect(chainKey.Properties).toMatchObject({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const [[, raw]] = keys.filter(([, k]) => k.Properties.KeySpec === 'HMAC_256');
    expect(raw.DeletionPolicy).toBe('Retain');
    // Every function with PutItem on Events appends, so each must MAC; no other function may.
    const appenders = FUNCTIONS.filter((name) =>
      granting(statementsOf(json, name), 'dynamodb:PutItem').some((s) => JSON.stringify(s.Resource).includes('Events')),
    ).sort();
    expect(appenders).toEqual([
      'api',
      'credentials',
      'launcher',
      'reaper',
      'relay-runtime',
      'scheduled-run',
      'task-events',
    ]);
    const generate = statement('ControlPlaneAppendsEvents');
    expect(generate).toMatchObject({
      Effect: 'Allow',
      Action: 'kms:GenerateMac',
      Condition: { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_256' } },
    });
    const principals = []
      .concat(generate.Principal.AWS)
      .map((p: { 'Fn::GetAtt': [string, string] }) => p['Fn::GetAtt'][0])
      .sort();
    expect(principals).toEqual(appenders.map((name) => roleIdOf(json, name)).sort());
    for (const name of appenders)
      expect(functionOf(json, name).resource.Properties.Environment.Variables.CUBICLE_CHAIN_KEY_ARN).toEqual({
        'Fn::GetAtt': [expect.stringMatching(/^AuditChainKey/), 'Arn'],
      });
    expect(statement('AccountVerifiesChains')).toMatchObject({
      Effect: 'Allow',
      Action: 'kms:VerifyMac',
      Principal: { AWS: expect.anything() },
    });
    // The account administers the key but uses it for nothing: no kms:* statement, no GenerateMac to the root.
    const uses = chainKey.Properties.KeyPolicy.Statement.filter(
      (s: { Effect: string; Action: string | string[] }) =>
        s.Effect === 'Allow' &&
        [].concat(s.Action as never).some((a: string) => a === 'kms:*' || a === 'kms:GenerateMac'),
    );
    expect(uses.map((s: { Sid: string }) => s.Sid)).toEqual(['ControlPlaneAppendsEvents']);
  });

  it('no agent role and no identity policy anywhere grants GenerateMac', () => {
    for (const template of [json, fleet]) {
      for (const [, policy] of [
        ...resourcesOfType(template, 'AWS::IAM::Policy'),
        ...resourcesOfType(template, 'AWS::IAM::Role'),
      ]) {
        const documents =
          policy.Type === 'AWS::IAM::Policy'
            ? [policy.Properties.PolicyDocument]
            : (policy.Properties.Policies ?? []).map((p: { PolicyDocument: unknown }) => p.PolicyDocument);
        for (const doc of documents)
          for (const s of doc.Statement) expect([].concat(s.Action)).not.toContain('kms:GenerateMac');
      }
    }
  });
});

describe('the audit archive', () => {
  it('is an Object Lock bucket in compliance mode (365 days by default), versioned, KMS-encrypted, TLS only, private, retained, logged', () => {
    expect(bucket.Properties.ObjectLockEnabled).toBe(true);
    expect(bucket.Properties.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 365 } },
    });
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(
      bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault
        .SSEAlgorithm,
    ).toBe('aws:kms');
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.LoggingConfiguration).toBeDefined();
    expect(bucket.DeletionPolicy).toBe('Retain');
    // No expiration of archived events (only of the bucket's own access logs, under their prefix).
    for (const rule of bucket.Properties.LifecycleConfiguration.Rules)
      if (rule.ExpirationInDays !== undefined) expect(rule.Prefix).toBe('access-logs/');
  });

  it('its policy refuses plain HTTP, writes of events by anyone but the consumer, and every delete', () => {
    const [, policy] = resourcesOfType(json, 'AWS::S3::BucketPolicy').find(
      ([, p]) => p.Properties.Bucket.Ref === bucketId,
    )!;
    const statements = policy.Properties.PolicyDocument.Statement;
    expect(
      statements.find(
        (s: { Condition?: { Bool?: Record<string, string> } }) =>
          s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
      ),
    ).toMatchObject({ Effect: 'Deny', Action: 's3:*' });
    const writes = statements.find((s: { Sid?: string }) => s.Sid === 'OnlyTheArchiverWritesEvents');
    expect(writes).toMatchObject({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 's3:PutObject',
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [roleIdOf(json, 'audit-archive'), 'Arn'] } } },
    });
    expect(statements.find((s: { Sid?: string }) => s.Sid === 'NoOneDeletes')).toMatchObject({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: ['s3:BypassGovernanceRetention', 's3:DeleteObject', 's3:DeleteObjectVersion'],
    });
  });

  it('the stream consumer reads the Events stream from its oldest record, retries until archived, and may only put events and publish security events', () => {
    const fn = functionOf(json, 'audit-archive');
    const [, mapping] = resourcesOfType(json, 'AWS::Lambda::EventSourceMapping').find(
      ([, m]) => m.Properties.FunctionName.Ref === fn.id,
    )!;
    expect(mapping.Properties).toMatchObject({
      StartingPosition: 'TRIM_HORIZON',
      MaximumRetryAttempts: -1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    const actions = statementsOf(json, 'audit-archive').flatMap(actionsOf);
    expect(actions).toContain('s3:PutObject');
    expect(actions).toContain('sns:Publish');
    for (const absent of [
      'dynamodb:Query',
      'dynamodb:PutItem',
      's3:GetObject',
      's3:DeleteObject',
      'kms:GenerateMac',
      'kms:VerifyMac',
    ])
      expect(actions).not.toContain(absent);
    expect(actions.filter((a) => a.endsWith('*'))).toEqual([]);
  });
});
