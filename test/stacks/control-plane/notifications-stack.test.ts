import { describe, expect, it } from 'vitest';
import { egressAllowList } from '../../../lib/constructs/egress-firewall';
import { readTemplates, resourcesOfType } from '../../support/assembly';
import { problemLines } from '../../support/config-problems';
import { exampleConfig, minimalConfigText } from '../../support/example-config';
import { synthesize } from '../../support/synth';

/**
 * Email notifications in the templates: off by default (nothing created), and when on, an SES identity for
 * the sender, a notifier that may send only from that address through that identity and touch only its own
 * rows, the archiver allowed to invoke it, and SES's API on the VPC's DNS allow-list.
 */
const base = exampleConfig();
const on = { ...base, notifications: { email: { from: 'cubicle@acme.example' } } };
const withNotifications = readTemplates(synthesize(on).outdir).get('acme-ControlPlane')!;
const example = readTemplates(synthesize(base).outdir).get('acme-ControlPlane')!;

const functionsNamed = (template: typeof example, text: string) =>
  resourcesOfType(template, 'AWS::Lambda::Function').filter(([, f]) =>
    String(f.Properties.Description ?? '').includes(text),
  );
/** The statements of the policies attached to a function's role (`Role` is the role's GetAtt Arn). */
const policiesOf = (template: typeof example, roleArn: { 'Fn::GetAtt': [string, string] }) =>
  resourcesOfType(template, 'AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleArn['Fn::GetAtt'][0] }]))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);

describe('email notifications in the templates', () => {
  it('are off by default: no identity, no notifier, no SES right, no SES name on the allow-list', () => {
    expect(resourcesOfType(example, 'AWS::SES::EmailIdentity')).toEqual([]);
    expect(functionsNamed(example, 'email notifications')).toEqual([]);
    expect(JSON.stringify(example)).not.toContain('ses:');
    expect(egressAllowList(base).filter((d) => d.startsWith('email.'))).toEqual([]);
  });

  it("create the sender's identity and a notifier that sends only from it, and let the archiver hand it events", () => {
    expect(
      resourcesOfType(withNotifications, 'AWS::SES::EmailIdentity').map(([, r]) => r.Properties.EmailIdentity),
    ).toEqual(['cubicle@acme.example']);
    const [[notifierId, notifier]] = functionsNamed(withNotifications, 'email notifications');
    expect(notifier.Properties.Environment.Variables).toMatchObject({
      CUBICLE_NOTIFY_FROM: 'cubicle@acme.example',
      CUBICLE_CONSOLE_URL: expect.anything(),
      CUBICLE_IDEMPOTENCY_TABLE: expect.anything(),
    });
    const statements = policiesOf(withNotifications, notifier.Properties.Role);
    const sesStatements = statements.filter((s: { Action: unknown }) => JSON.stringify(s.Action).includes('ses:'));
    expect(sesStatements).toEqual([
      {
        Sid: 'SendFromThePlatformAddressOnly',
        Effect: 'Allow',
        Action: 'ses:SendEmail',
        Resource: {
          'Fn::Join': [
            '',
            ['arn:aws:ses:eu-west-1:111111111111:identity/', { Ref: expect.stringMatching(/^NotificationsIdentity/) }],
          ],
        },
        Condition: { StringEquals: { 'ses:FromAddress': 'cubicle@acme.example' } },
      },
    ]);
    // Its table rights: the Idempotency table's dedupe and rate rows only; nothing that opens a record.
    const actions = statements.flatMap((s: { Action: string | string[] }) => [s.Action].flat());
    expect(actions.filter((a: string) => a.startsWith('dynamodb:')).sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    // Its writes name only its rows' attributes (runtime/shared/table-writes.ts), with no row read back.
    const writes = statements.filter((s: { Action: unknown }) => JSON.stringify(s.Action).includes('dynamodb:PutItem'));
    expect(writes.map((s: { Action: unknown; Condition: unknown }) => [s.Action, s.Condition])).toEqual([
      [
        ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['expiresAt', 'pk', 'sent', 'sk'] },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE'] },
        },
      ],
    ]);
    // Its only key use is the tables' key through DynamoDB: no user key, so no employee record opens for it.
    const keyStatements = statements.filter((s: { Action: unknown }) => JSON.stringify(s.Action).includes('kms:'));
    for (const s of keyStatements)
      expect(s.Condition).toEqual({ StringEquals: { 'kms:ViaService': 'dynamodb.eu-west-1.amazonaws.com' } });
    // The archiver may invoke exactly the notifier, and knows its name.
    const [[, archiver]] = functionsNamed(withNotifications, 'audit archive');
    expect(archiver.Properties.Environment.Variables.CUBICLE_NOTIFIER_FUNCTION).toEqual({ Ref: notifierId });
    const invokes = policiesOf(withNotifications, archiver.Properties.Role).filter((s: { Action: unknown }) =>
      JSON.stringify(s.Action).includes('lambda:'),
    );
    expect(invokes).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [notifierId, 'Arn'] } },
    ]);
    expect(egressAllowList(on as never).filter((d) => d.startsWith('email.'))).toEqual([
      'email.eu-west-1.amazonaws.com',
    ]);
  });

  it('import a verified identity instead, when the config names one', () => {
    const imported = readTemplates(
      synthesize({
        ...base,
        notifications: {
          email: {
            from: 'cubicle@acme.example',
            identityArn: 'arn:aws:ses:eu-west-1:111111111111:identity/acme.example',
          },
        },
      }).outdir,
    ).get('acme-ControlPlane')!;
    expect(resourcesOfType(imported, 'AWS::SES::EmailIdentity')).toEqual([]);
    expect(JSON.stringify(imported)).toContain('"Resource":"arn:aws:ses:eu-west-1:111111111111:identity/acme.example"');
  });

  it('refuse a sender that is no address, and an identity that cannot send for it, naming the key', () => {
    const yaml = (notifications: string) => minimalConfigText({ notifications });
    expect(problemLines(yaml('{ email: { from: "not an address" } }'))).toEqual([
      'notifications.email.from: the sender must be an email address, e.g. cubicle@acme.example, got "not an address"',
    ]);
    expect(
      problemLines(
        yaml(
          '{ email: { from: cubicle@acme.example, identityArn: "arn:aws:ses:us-east-1:222222222222:identity/other.example" } }',
        ),
      ),
    ).toEqual([
      'notifications.email.identityArn: the identity is in us-east-1, but SES sends from the home region eu-west-1: verify the identity there',
      "notifications.email.identityArn: the identity belongs to account 222222222222, not this deployment's account 111111111111",
      'notifications.email.identityArn: the identity other.example is neither the sender cubicle@acme.example nor its domain acme.example',
    ]);
  });
});
