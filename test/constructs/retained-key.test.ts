/**
 * createRetainedKey on its own, in a bare stack: what every Cubicle key is (retained, rotated, grants only
 * for AWS services), and what `iamGrantsUse: false` and `hmac` change. The whole-app tests see these keys
 * among hundreds of resources; here each property is asserted where it is made.
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import * as iam from 'aws-cdk-lib/aws-iam';
import {
  createRetainedKey,
  KEY_ADMIN_ACTIONS,
  keyStatement,
  RetainedKeyJson,
  type RetainedKeyProps,
} from '../../lib/constructs/retained-key';
import { ACCOUNT } from '../support/account';
import { testStack } from '../support/synth';

function keyTemplate(props: Partial<RetainedKeyProps> = {}): { key: any; template: Template } {
  const stack = testStack();
  createRetainedKey(stack, 'Key', { description: 'Cubicle: test key', ...props });
  const template = Template.fromStack(stack);
  const keys = Object.values(template.findResources('AWS::KMS::Key'));
  expect(keys).toHaveLength(1);
  return { key: keys[0], template };
}

const statements = (key: any): any[] => key.Properties.KeyPolicy.Statement;
const rootArn = `arn:aws:iam::${ACCOUNT}:root`;

describe('createRetainedKey', () => {
  it('is kept when its stack is deleted or it is replaced, and rotates yearly', () => {
    const { key } = keyTemplate();
    expect(key.DeletionPolicy).toBe('Retain');
    expect(key.UpdateReplacePolicy).toBe('Retain');
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.Properties.Description).toBe('Cubicle: test key');
  });

  it('denies CreateGrant to anyone unless the grant is for an AWS resource or made by an AWS service', () => {
    const deny = statements(keyTemplate().key).filter((s) => s.Effect === 'Deny');
    expect(deny).toEqual([
      {
        Sid: 'DenyGrantsExceptForAwsServices',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'kms:CreateGrant',
        Resource: '*',
        Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
      },
    ]);
  });

  it("by default keeps AWS's account statement (IAM policies may grant use)", () => {
    const allows = statements(keyTemplate().key).filter((s) => s.Effect === 'Allow');
    expect(allows).toEqual([{ Effect: 'Allow', Principal: { AWS: rootArn }, Action: 'kms:*', Resource: '*' }]);
  });

  it('with iamGrantsUse false, the account administers the key and cannot use it: no kms:* and no data action', () => {
    const allows = statements(keyTemplate({ iamGrantsUse: false }).key).filter((s) => s.Effect === 'Allow');
    expect(allows).toEqual([
      {
        Sid: 'AccountAdministersButNeverUsesTheKey',
        Effect: 'Allow',
        Principal: { AWS: rootArn },
        Action: [...KEY_ADMIN_ACTIONS],
        Resource: '*',
      },
    ]);
    for (const data of ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom', 'kms:CreateGrant'])
      expect(KEY_ADMIN_ACTIONS).not.toContain(data);
  });

  it('an HMAC key has rotation off (KMS rotates only symmetric encryption keys) and the MAC key spec', () => {
    const { key } = keyTemplate({ hmac: true });
    expect(key.Properties).toMatchObject({
      KeySpec: 'HMAC_256',
      KeyUsage: 'GENERATE_VERIFY_MAC',
      EnableKeyRotation: false,
    });
    expect(key.DeletionPolicy).toBe('Retain');
  });

  it('an alias is created only when asked for', () => {
    keyTemplate().template.resourceCountIs('AWS::KMS::Alias', 0);
    keyTemplate({ alias: 'cubicle/test' }).template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/cubicle/test',
      TargetKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] },
    });
  });
});

describe('RetainedKeyJson (the vault keys: one per roster user)', () => {
  it('renders exactly the key, policy and alias createRetainedKey renders with iamGrantsUse false, under the same logical ids', () => {
    const render = (make: (stack: ReturnType<typeof testStack>) => void) => {
      const stack = testStack();
      make(stack);
      return JSON.stringify(Template.fromStack(stack).toJSON().Resources);
    };
    const condition = { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } };
    const expected = render((stack) => {
      const key = createRetainedKey(stack, 'Key', { description: 'd', alias: 'cubicle/u1', iamGrantsUse: false });
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'Readers',
          principals: [new iam.AnyPrincipal()],
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: ['*'],
          conditions: condition,
        }),
      );
    });
    expect(expected).toContain('AccountAdministersButNeverUsesTheKey');
    const actual = render((stack) => {
      const key = new RetainedKeyJson(stack, 'Key', { description: 'd', alias: 'cubicle/u1' });
      key.addStatement(keyStatement('Readers', 'Allow', '*', ['kms:GenerateDataKey', 'kms:Decrypt'], condition));
    });
    expect(actual).toBe(expected);
  });

  it('refuses two statements with one Sid', () => {
    const key = new RetainedKeyJson(testStack(), 'Key', { description: 'd' });
    expect(() =>
      key.addStatement(keyStatement('AccountAdministersButNeverUsesTheKey', 'Allow', '*', ['kms:Decrypt'])),
    ).toThrow(/two key policy statements with Sid "AccountAdministersButNeverUsesTheKey"/);
  });
});
