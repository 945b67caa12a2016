/**
 * The console's infrastructure in the example's synthesized ControlPlane template (the global setup's
 * synth, with cdk-nag and cfn-guard): private bucket behind OAC, its own strict CSP, config.json from stack
 * values, Cognito code + PKCE clients with exact callbacks. Exact values, and the negatives.
 */
import { describe, expect, it } from 'vitest';
import { CLI_REDIRECT_URI, consoleContentSecurityPolicy } from '../../console/settings';
import { ACCESS_LOG_PREFIX, ASSET_CACHE_CONTROL, PAGE_CACHE_CONTROL } from '../../lib/constructs/console-site';
import { domainPrefixOf } from '../../lib/constructs/console-sign-in';
import { NOT_FOUND_FUNCTION_CODE, SECURITY_HEADERS } from '../../lib/constructs/edge-distribution';
import { exampleTemplates, resourcesOfType } from '../support/assembly';

const template = exampleTemplates().get('acme-ControlPlane')!;
const R = template.Resources;
const one = (type: string, prefix: string) => {
  const found = resourcesOfType(template, type).filter(([id]) => id.startsWith(prefix));
  expect(found, `${type} ${prefix}*`).toHaveLength(1);
  return { id: found[0][0], ...found[0][1] };
};
const bucket = one('AWS::S3::Bucket', 'ConsoleBucket');
const key = one('AWS::KMS::Key', 'ConsoleKey');
const distribution = one('AWS::CloudFront::Distribution', 'EdgeDistribution');
const dist = distribution.Properties.DistributionConfig;
const consoleClient = one('AWS::Cognito::UserPoolClient', 'IdentityEmployeesConsole');
const cliClient = one('AWS::Cognito::UserPoolClient', 'IdentityEmployeesCli');
const distributionUrl = { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distribution.id, 'DomainName'] }, '/']] };

describe('the console bucket', () => {
  it('is private, KMS-encrypted, versioned, lock-enabled, logged, ACL-free and retained', () => {
    expect(bucket.Properties).toEqual({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              KMSMasterKeyID: { 'Fn::GetAtt': [key.id, 'Arn'] },
              SSEAlgorithm: 'aws:kms',
            },
          },
        ],
      },
      LifecycleConfiguration: {
        Rules: [
          {
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
            Id: 'EarlierBuilds',
            NoncurrentVersionExpiration: { NoncurrentDays: 90 },
            Status: 'Enabled',
          },
          { ExpirationInDays: 365, Id: 'AccessLogs', Prefix: ACCESS_LOG_PREFIX, Status: 'Enabled' },
        ],
      },
      LoggingConfiguration: { LogFilePrefix: ACCESS_LOG_PREFIX },
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
      ObjectLockEnabled: true,
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      Tags: expect.any(Array),
      VersioningConfiguration: { Status: 'Enabled' },
    });
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(key.DeletionPolicy).toBe('Retain');
    expect(key.Properties.EnableKeyRotation).toBe(true);
  });

  it('its policy: TLS 1.2+ only; CloudFront reads objects only for this distribution and never the access logs; nothing else is allowed', () => {
    const policy = one('AWS::S3::BucketPolicy', 'ConsoleBucketPolicy').Properties.PolicyDocument.Statement as any[];
    const allows = policy.filter((s) => s.Effect === 'Allow');
    expect(allows).toEqual([
      {
        Action: 's3:PutObject',
        Condition: {
          ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [bucket.id, 'Arn'] } },
          StringEquals: { 'aws:SourceAccount': '111111111111' },
        },
        Effect: 'Allow',
        Principal: { Service: 'logging.s3.amazonaws.com' },
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket.id, 'Arn'] }, `/${ACCESS_LOG_PREFIX}*`]] },
      },
      {
        Action: 's3:GetObject',
        Condition: {
          StringEquals: {
            'AWS:SourceArn': {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':cloudfront::',
                  { Ref: 'AWS::AccountId' },
                  ':distribution/',
                  { Ref: distribution.id },
                ],
              ],
            },
          },
        },
        Effect: 'Allow',
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket.id, 'Arn'] }, '/*']] },
      },
    ]);
    const denies = policy.filter((s) => s.Effect === 'Deny');
    expect(denies.map((s) => s.Condition ?? s.Sid)).toEqual([
      { Bool: { 'aws:SecureTransport': 'false' } },
      { NumericLessThan: { 's3:TlsVersion': 1.2 } },
      'CloudFrontNeverReadsAccessLogs',
    ]);
    expect(JSON.stringify(allows)).not.toMatch(/"s3:\*"|"Principal":"\*"|ListBucket/);
  });
});

describe('the distribution serves the console at / and keeps the API behaviors', () => {
  it('default behavior: the bucket through OAC, GET/HEAD, cached, redirect to HTTPS, the console headers; root object index.html', () => {
    const s3Origin = dist.Origins.find((o: any) => o.S3OriginConfig);
    expect(s3Origin).toEqual({
      DomainName: { 'Fn::GetAtt': [bucket.id, 'RegionalDomainName'] },
      Id: expect.any(String),
      OriginAccessControlId: { 'Fn::GetAtt': [expect.stringMatching(/S3OriginAccessControl/), 'Id'] },
      S3OriginConfig: { OriginAccessIdentity: '' },
    });
    const oac = R[s3Origin.OriginAccessControlId['Fn::GetAtt'][0]].Properties.OriginAccessControlConfig;
    expect(oac).toMatchObject({
      OriginAccessControlOriginType: 's3',
      SigningBehavior: 'always',
      SigningProtocol: 'sigv4',
    });
    expect(dist.DefaultRootObject).toBe('index.html');
    expect(dist.DefaultCacheBehavior).toMatchObject({
      TargetOriginId: s3Origin.Id,
      ViewerProtocolPolicy: 'redirect-to-https',
      AllowedMethods: ['GET', 'HEAD'],
      CachePolicyId: '658327ea-f89d-4fab-a63d-7e88639e58f6', // CachingOptimized
      Compress: true,
      ResponseHeadersPolicyId: { Ref: expect.stringMatching(/^ConsoleHeaders/) },
    });
    expect(dist.DefaultCacheBehavior.OriginRequestPolicyId).toBeUndefined(); // no viewer header (Authorization) reaches S3
    const api = dist.CacheBehaviors.find((b: any) => b.PathPattern === '/v1/*');
    expect(api).toMatchObject({
      ViewerProtocolPolicy: 'https-only',
      CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
      ResponseHeadersPolicyId: { Ref: expect.stringMatching(/^EdgeSecurityHeaders/) },
    });
    expect(api.TargetOriginId).not.toBe(s3Origin.Id);
  });

  it("the console has its own strict CSP (connect-src: self and the sign-in origins); the API keeps default-src 'none'", () => {
    const consolePolicy = one('AWS::CloudFront::ResponseHeadersPolicy', 'ConsoleHeaders').Properties
      .ResponseHeadersPolicyConfig;
    const csp = consoleContentSecurityPolicy([
      'https://acme-111111111111.auth.eu-west-1.amazoncognito.com',
      'https://cognito-idp.eu-west-1.amazonaws.com',
    ]);
    expect(consolePolicy.SecurityHeadersConfig.ContentSecurityPolicy).toEqual({
      ContentSecurityPolicy: csp,
      Override: true,
    });
    expect(csp).toContain(
      "connect-src 'self' https://acme-111111111111.auth.eu-west-1.amazoncognito.com https://cognito-idp.eu-west-1.amazonaws.com;",
    );
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(consolePolicy.SecurityHeadersConfig).toMatchObject({
      StrictTransportSecurity: {
        AccessControlMaxAgeSec: 63072000,
        IncludeSubdomains: true,
        Preload: true,
        Override: true,
      },
      FrameOptions: { FrameOption: 'DENY', Override: true },
      ContentTypeOptions: { Override: true },
      ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
    });
    expect(consolePolicy.CustomHeadersConfig.Items).toEqual([
      { Header: 'Permissions-Policy', Value: SECURITY_HEADERS.permissionsPolicy, Override: true },
    ]);
    const apiPolicy = one('AWS::CloudFront::ResponseHeadersPolicy', 'EdgeSecurityHeaders').Properties
      .ResponseHeadersPolicyConfig;
    expect(apiPolicy.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy).toBe(
      "default-src 'none'; frame-ancestors 'none'",
    );
  });

  it("the edge function lets only the console's files reach the bucket and answers 404 JSON for anything else", () => {
    const handler = new Function(`${NOT_FOUND_FUNCTION_CODE}; return handler;`)();
    for (const uri of ['/', '/index.html', '/config.json', '/assets/app-76BOSVND.js', '/assets/icon.svg']) {
      const request = { method: 'GET', uri, headers: {} };
      expect(handler({ request }), uri).toBe(request);
    }
    for (const uri of [
      '/.env',
      '/access-logs/2026-01-01',
      '/assets/../index.html',
      '/assets/a/b.js',
      '/index.html/x',
      '/wp-admin',
    ]) {
      expect(handler({ request: { method: 'GET', uri, headers: {} } }).statusCode, uri).toBe(404);
    }
  });
});

describe('deploying the files and config.json', () => {
  const deployments = resourcesOfType(template, 'Custom::CDKBucketDeployment').map(([id, r]) => ({
    id,
    ...r.Properties,
  }));

  it('assets (immutable) then pages (no-cache) with config.json from stack values; never pruned, kept on delete', () => {
    expect(
      deployments.map((d) => [
        d.DestinationBucketKeyPrefix,
        d.SystemMetadata['cache-control'],
        d.Prune,
        d.RetainOnDelete,
      ]),
    ).toEqual([
      ['assets/', ASSET_CACHE_CONTROL, false, true],
      [undefined, PAGE_CACHE_CONTROL, false, true],
    ]);
    const pages = deployments[1];
    expect(R[pages.id].DependsOn).toEqual(expect.arrayContaining([deployments[0].id]));
    // config.json's tokens are filled at deploy: the user pool and both app clients.
    expect(Object.values(pages.SourceMarkers[1])).toEqual([
      { Ref: expect.stringMatching(/^IdentityEmployees[0-9A-F]{8}$/) },
      { Ref: consoleClient.id },
      { Ref: cliClient.id },
    ]);
  });

  it("the deployment function has an exact role: its own source zips, the console's keys, its log group, the VPC interfaces", () => {
    const role = one('AWS::IAM::Role', 'ConsoleDeployRole');
    const fn = resourcesOfType(template, 'AWS::Lambda::Function').find(
      ([, r]) => JSON.stringify(r.Properties.Role) === JSON.stringify({ 'Fn::GetAtt': [role.id, 'Arn'] }),
    )!;
    expect(fn[1].Properties.VpcConfig.SubnetIds.length).toBe(2);
    const statements = one('AWS::IAM::Policy', 'ConsoleDeployRoleDefaultPolicy').Properties.PolicyDocument
      .Statement as any[];
    expect(statements.map((s) => [s.Action, s.Resource === '*' ? '*' : 'scoped'])).toEqual([
      ['s3:GetObject', 'scoped'],
      ['s3:ListBucket', 'scoped'],
      ['s3:PutObject', 'scoped'],
      [['kms:Decrypt', 'kms:GenerateDataKey'], 'scoped'],
      [['logs:CreateLogStream', 'logs:PutLogEvents'], 'scoped'],
      [
        [
          'ec2:AssignPrivateIpAddresses',
          'ec2:CreateNetworkInterface',
          'ec2:DeleteNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:UnassignPrivateIpAddresses',
        ],
        '*',
      ],
    ]);
    expect(statements[0].Resource).toHaveLength(3);
    for (const object of statements[0].Resource)
      expect(object).toMatch(/^arn:aws:s3:::cdk-hnb659fds-assets-111111111111-eu-west-1\/[0-9a-f]{64}\.zip$/);
    const arn = { 'Fn::GetAtt': [bucket.id, 'Arn'] };
    expect(statements[2].Resource).toEqual(
      ['/assets/*', '/config.json', '/index.html'].map((p) => ({ 'Fn::Join': ['', [arn, p]] })),
    );
    expect(statements[3].Condition).toEqual({ StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } });
    expect(JSON.stringify(statements)).not.toMatch(/DeleteObject|s3:\*|"s3:Get\w*\*"|"s3:List\*"/);
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });
});

describe('sign-in: Cognito managed login with code + PKCE clients', () => {
  it('a managed-login domain named after the deployment and account', () => {
    expect(one('AWS::Cognito::UserPoolDomain', 'IdentityEmployeesSignIn').Properties).toMatchObject({
      Domain: 'acme-111111111111',
      ManagedLoginVersion: 1,
    });
    expect(() => domainPrefixOf('awsome', '111111111111')).toThrow(
      'name "awsome": the sign-in domain prefix "awsome-111111111111" would contain "aws", which Cognito refuses in domain prefixes; choose another deployment name.',
    );
  });

  it("the console client: code flow only, callback and sign-out = the distribution's URL, no secret, no password flows", () => {
    expect(consoleClient.Properties).toMatchObject({
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: ['openid', 'email', 'profile'],
      CallbackURLs: [distributionUrl],
      LogoutURLs: [distributionUrl],
      GenerateSecret: false,
      EnableTokenRevocation: true,
      SupportedIdentityProviders: ['COGNITO'],
    });
    expect(consoleClient.Properties.ExplicitAuthFlows).toBeUndefined();
  });

  it("the CLI client: code flow to its loopback listener only; no client keeps the implicit flow or CDK's example.com default", () => {
    expect(cliClient.Properties).toMatchObject({
      AllowedOAuthFlows: ['code'],
      CallbackURLs: [CLI_REDIRECT_URI],
      LogoutURLs: [CLI_REDIRECT_URI],
      GenerateSecret: false,
    });
    for (const [, client] of resourcesOfType(template, 'AWS::Cognito::UserPoolClient'))
      expect(client.Properties.AllowedOAuthFlows).not.toContain('implicit');
    expect(JSON.stringify(template)).not.toContain('example.com');
  });

  it('the API accepts tokens of both clients', () => {
    const authorizer = resourcesOfType(template, 'AWS::ApiGatewayV2::Authorizer')[0][1].Properties;
    expect(authorizer.JwtConfiguration.Audience).toEqual([{ Ref: cliClient.id }, { Ref: consoleClient.id }]);
  });

  it("the stack prints the console's address", () => {
    expect((template as any).Outputs.ConsoleUrl.Value).toEqual({
      'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distribution.id, 'DomainName'] }, '/']],
    });
  });
});
