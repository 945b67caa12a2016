import { Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import {
  ACCOUNT,
  assumeWithWebIdentity,
  checkTrustPolicy,
  githubClaims,
  OWNER,
  PROVIDER_ARN,
  pipelineConfig,
  REPO,
  synthPipeline,
} from './fixture';

// Two environments so "another environment" is a real neighbour, and the diff role switched on.
const config = pipelineConfig({ environments: ['staging', 'production'], pullRequestDiff: true });
const synth = synthPipeline(config);
const { stack, template } = synth;
const [providerId] = Object.keys(template.findResources('AWS::IAM::OIDCProvider'));

const AUD = 'sts.amazonaws.com';
const envSubject = (environment: string) => `repo:${OWNER}/${REPO}:environment:${environment}`;
const PR_SUBJECT = `repo:${OWNER}/${REPO}:pull_request`;

/** Every role of the stack with the one subject it must trust. */
const roles: { name: string; role: iam.Role; subject: string }[] = [
  ...['staging', 'production'].flatMap((env) => [
    { name: `${env} deploy role`, role: stack.environments[env].deploy, subject: envSubject(env) },
    { name: `${env} invoke role`, role: stack.environments[env].invoke, subject: envSubject(env) },
  ]),
  { name: 'diff role', role: stack.diffRole!, subject: PR_SUBJECT },
];

function expectedTrust(subject: string) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRoleWithWebIdentity',
        Principal: { Federated: { Ref: providerId } },
        Condition: {
          StringEquals: {
            'token.actions.githubusercontent.com:aud': AUD,
            'token.actions.githubusercontent.com:sub': subject,
          },
        },
      },
    ],
  };
}

const trustOf = (role: iam.Role) => synth.resolve(synth.propertiesOf(role).AssumeRolePolicyDocument);

describe('the synthesized trust policies', () => {
  it('creates one GitHub OIDC provider for the STS audience', () => {
    template.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    template.hasResource('AWS::IAM::OIDCProvider', {
      Properties: Match.objectEquals({
        Url: 'https://token.actions.githubusercontent.com',
        ClientIdList: [AUD],
        Tags: Match.anyValue(),
      }),
      DeletionPolicy: 'Retain',
    });
  });

  it.each(roles)('$name trusts exactly its one subject with StringEquals on aud and sub', ({ role, subject }) => {
    expect(synth.propertiesOf(role).AssumeRolePolicyDocument).toEqual(expectedTrust(subject));
    expect(synth.propertiesOf(role).MaxSessionDuration).toBe(3600);
  });

  it('has no other role, and no IAM user or access key (no long-lived credentials)', () => {
    template.resourceCountIs('AWS::IAM::Role', roles.length);
    template.resourceCountIs('AWS::IAM::User', 0);
    template.resourceCountIs('AWS::IAM::AccessKey', 0);
    for (const { subject } of roles) {
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: Match.objectEquals(expectedTrust(subject)),
      });
    }
  });

  it('never uses a pattern operator or a wildcard in a trust condition', () => {
    const trusts = JSON.stringify(
      Object.values(template.findResources('AWS::IAM::Role')).map((r) => r.Properties.AssumeRolePolicyDocument),
    );
    expect(trusts).not.toMatch(/StringLike|ForAnyValue|ForAllValues|IfExists/);
    expect(trusts).not.toContain('*');
  });

  it.each(roles)('$name trust policy is a valid resource policy for the IAM simulator', async ({ role }) => {
    expect(await checkTrustPolicy(trustOf(role))).toBe('valid');
  });
});

describe('who can assume each role (iam-simulate, sts:AssumeRoleWithWebIdentity)', () => {
  describe.each(roles)('$name', ({ role, subject }) => {
    const trust = trustOf(role);
    const decide = (claims: { sub?: string; aud?: string }, principal?: string) =>
      assumeWithWebIdentity(trust, { principal, context: githubClaims(claims) });

    it('allows its pinned subject with the STS audience', () => {
      expect(decide({ sub: subject, aud: AUD })).toBe('Allowed');
    });

    const otherSubjects: [string, string][] = [
      ['another repository of the same owner', subject.replace(`${OWNER}/${REPO}`, `${OWNER}/other-repo`)],
      ['a fork (same repository name, another owner)', subject.replace(`repo:${OWNER}/`, 'repo:mallory/')],
      ["a fork's pull_request", `repo:mallory/${REPO}:pull_request`],
      ['another environment', subject === envSubject('staging') ? envSubject('production') : envSubject('staging')],
      ['a branch ref', `repo:${OWNER}/${REPO}:ref:refs/heads/main`],
      ['a tag ref', `repo:${OWNER}/${REPO}:ref:refs/tags/v1.0.0`],
      ['a differently cased repository', subject.replace(REPO, REPO.toUpperCase())],
    ];
    if (subject !== PR_SUBJECT) otherSubjects.push(["this repository's pull_request", PR_SUBJECT]);

    it.each(otherSubjects)('denies %s', (_what, other) => {
      expect(other).not.toBe(subject);
      expect(decide({ sub: other, aud: AUD })).toBe('ImplicitlyDenied');
    });

    it('denies a token without aud', () => {
      expect(decide({ sub: subject })).toBe('ImplicitlyDenied');
    });

    it('denies a token for another audience', () => {
      expect(decide({ sub: subject, aud: `https://github.com/${OWNER}` })).toBe('ImplicitlyDenied');
    });

    it('denies a token without sub', () => {
      expect(decide({ aud: AUD })).toBe('ImplicitlyDenied');
    });

    it("denies the same claims through another account's provider", () => {
      const otherProvider = PROVIDER_ARN.replace(ACCOUNT, '222222222222');
      expect(decide({ sub: subject, aud: AUD }, otherProvider)).toBe('ImplicitlyDenied');
    });
  });
});
