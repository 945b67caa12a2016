/**
 * EncryptedLogGroup on its own: a retained log group with a fixed retention under a key of its own that
 * only CloudWatch Logs of this account and region may use, or under a key it is given (which it does not change).
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EncryptedLogGroup } from '../../lib/constructs/encrypted-log-group';
import { createRetainedKey } from '../../lib/constructs/retained-key';
import { testStack } from '../support/synth';

describe('EncryptedLogGroup', () => {
  it('is retained, keeps its logs for the given days, and is encrypted with its own key', () => {
    const stack = testStack();
    new EncryptedLogGroup(stack, 'Audit', { retentionDays: 365, purpose: 'the audit log' });
    const template = Template.fromStack(stack);
    const [[groupId, group]] = Object.entries(template.findResources('AWS::Logs::LogGroup'));
    const [[keyId, key]] = Object.entries(template.findResources('AWS::KMS::Key'));
    expect(groupId).toMatch(/^AuditLogGroup/);
    expect(group.DeletionPolicy).toBe('Retain');
    expect(group.Properties.RetentionInDays).toBe(365);
    expect(group.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    expect(key.Properties.Description).toBe('Cubicle: encrypts the audit log');
    expect(key.DeletionPolicy).toBe('Retain');
  });

  it("lets CloudWatch Logs use its key only for this account's log groups in this region", () => {
    const stack = testStack();
    new EncryptedLogGroup(stack, 'Audit', { retentionDays: 30, purpose: 'the audit log' });
    const [key] = Object.values(Template.fromStack(stack).findResources('AWS::KMS::Key'));
    const logs = key.Properties.KeyPolicy.Statement.filter((s: any) => s.Sid === 'AllowCloudWatchLogsOfThisAccount');
    expect(logs).toHaveLength(1);
    expect(logs[0].Principal).toEqual({ Service: 'logs.eu-west-1.amazonaws.com' });
    expect(logs[0].Condition).toEqual({
      ArnLike: {
        'kms:EncryptionContext:aws:logs:arn': {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':logs:eu-west-1:', { Ref: 'AWS::AccountId' }, ':log-group:*'],
          ],
        },
      },
    });
    expect(logs[0].Action).not.toContain('kms:CreateGrant');
  });

  it('uses a key it is given, adds no key and leaves that key policy alone', () => {
    const stack = testStack();
    const key = createRetainedKey(stack, 'Shared', { description: 'Cubicle: shared' });
    new EncryptedLogGroup(stack, 'Audit', { retentionDays: 30, purpose: 'the audit log', encryptionKey: key });
    const template = Template.fromStack(stack);
    const keys = template.findResources('AWS::KMS::Key');
    expect(Object.keys(keys)).toEqual([expect.stringMatching(/^Shared/)]);
    const sids = Object.values(keys)[0].Properties.KeyPolicy.Statement.map((s: any) => s.Sid);
    expect(sids).not.toContain('AllowCloudWatchLogsOfThisAccount');
  });
});
