import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { disabledControlTowerRules } from '../../lib/aspects/compliance';
import { parseConfigText } from '../../lib/config/load';
import {
  API_PATH_PATTERN,
  HSTS_MAX_AGE_SECONDS,
  NOT_FOUND_FUNCTION_CODE,
  SECURITY_HEADERS,
} from '../../lib/constructs/edge-distribution';
import { ORIGIN_VERIFY_HEADER, ORIGIN_VERIFY_SECRET_ENV } from '../../runtime/control-plane/origin-verify';
import { exampleTemplates, resourcesOfType, type TemplateJson } from '../support/assembly';
import { exampleConfigText } from '../support/example-config';
import { synthesize } from '../support/synth';
import { functionOf, statementsOf } from './control-plane/support/template';
import { RELAY_PATH } from '../../runtime/shared/relay-protocol';

/** AWS managed policy ids (CloudFront documentation, "Use managed cache/origin request policies"). */
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';
const ALL_METHODS = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'];

const templates = exampleTemplates();
const controlPlane = templates.get('acme-ControlPlane')!;

function only(template: TemplateJson, type: string) {
  const found = resourcesOfType(template, type);
  expect(found, type).toHaveLength(1);
  return { id: found[0][0], resource: found[0][1], props: found[0][1].Properties };
}

const distribution = only(controlPlane, 'AWS::CloudFront::Distribution');
const config = distribution.props.DistributionConfig;
/**
 * The HTTP API's behaviors (/v1/*); the default behavior serves the console (test/console/infra.test.ts) and
 * the relay's /v1/relay behavior is checked in test/stacks/control-plane/relay-stack.test.ts.
 */
const behaviors: any[] = (config.CacheBehaviors ?? []).filter((b: any) => b.PathPattern !== RELAY_PATH);
const apiBehavior = config.CacheBehaviors.find((b: any) => b.PathPattern === API_PATH_PATTERN);
const httpApiId = resourcesOfType(controlPlane, 'AWS::ApiGatewayV2::Api').find(
  ([, r]) => r.Properties.ProtocolType === 'HTTP',
)![0];
const apiOrigin = config.Origins.find((o: any) => JSON.stringify(o.DomainName).includes(httpApiId));
const headersPolicy = (() => {
  const [[id, resource]] = resourcesOfType(controlPlane, 'AWS::CloudFront::ResponseHeadersPolicy').filter(([i]) =>
    i.startsWith('EdgeSecurityHeaders'),
  );
  return { id, resource, props: resource.Properties };
})();
/** Origins reached over HTTPS: the HTTP API and the device relay. */
const apiOrigins = (origins: any[]) => origins.filter((o) => o.CustomOriginConfig);
const secret = only(controlPlane, 'AWS::SecretsManager::Secret');

describe('the distribution in front of the employee API (example config)', () => {
  it("is protected by the Edge stack's web ACL, read across regions", () => {
    const ref = config.WebACLId['Fn::GetStackOutput'];
    expect(ref).toMatchObject({ StackName: 'acme-Edge', Region: 'us-east-1' });
    const edge = templates.get('acme-Edge')!;
    expect((edge as any).Outputs[ref.OutputName].Value).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^WebAcl/), 'Arn'],
    });
  });

  it("has the relay's /v1/relay behavior first, then /v1/* to the API origin, and a default behavior to the console's bucket", () => {
    expect(config.CacheBehaviors.map((b: any) => b.PathPattern)).toEqual([RELAY_PATH, API_PATH_PATTERN]);
    for (const behavior of behaviors) expect(behavior.TargetOriginId).toBe(apiOrigin.Id);
    expect(
      config.Origins.find((o: any) => o.Id === config.DefaultCacheBehavior.TargetOriginId).S3OriginConfig,
    ).toBeDefined();
  });

  it('every API behavior: HTTPS only, every method, caching disabled, all viewer headers but Host, the security headers policy', () => {
    for (const behavior of behaviors) {
      expect(behavior).toMatchObject({
        ViewerProtocolPolicy: 'https-only',
        AllowedMethods: ALL_METHODS,
        CachePolicyId: CACHING_DISABLED,
        OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
        ResponseHeadersPolicyId: { Ref: headersPolicy.id },
        Compress: false,
      });
    }
  });

  it('the API behavior runs no function; the default behavior answers 404 JSON at the edge', () => {
    expect(apiBehavior.FunctionAssociations).toBeUndefined();
    const [fnId, fnResource] = resourcesOfType(controlPlane, 'AWS::CloudFront::Function').find(
      ([, r]) => r.Properties.FunctionCode === NOT_FOUND_FUNCTION_CODE,
    )!;
    const fn = { id: fnId, props: fnResource.Properties };
    expect(config.DefaultCacheBehavior.FunctionAssociations).toEqual([
      { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [fn.id, 'FunctionARN'] } },
    ]);
    expect(fn.props.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    expect(fn.props.FunctionCode).toBe(NOT_FOUND_FUNCTION_CODE);
    // The function is plain JavaScript: run it as CloudFront would, on a request for a path outside /v1/.
    const handler = new Function(`${NOT_FOUND_FUNCTION_CODE}; return handler;`)();
    const response = handler({ request: { method: 'GET', uri: '/.env', headers: {} } });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type'].value).toBe('application/json; charset=utf-8');
    expect(JSON.parse(response.body.data)).toEqual({ message: 'Not found. The Cubicle API is under /v1/.' });
  });

  it("reaches the origins over HTTPS with TLS 1.2 only, at the HTTP API's and the device relay's execute-api hosts", () => {
    expect(apiOrigins(config.Origins)).toHaveLength(2);
    expect(apiOrigin.DomainName).toEqual({
      'Fn::Join': ['', [{ Ref: httpApiId }, '.execute-api.eu-west-1.amazonaws.com']],
    });
    for (const origin of apiOrigins(config.Origins)) {
      expect(origin.CustomOriginConfig).toEqual({
        OriginProtocolPolicy: 'https-only',
        OriginSSLProtocols: ['TLSv1.2'],
        OriginReadTimeout: 30,
      });
    }
  });

  it('adds the origin-verify header as a Secrets Manager dynamic reference, never a value', () => {
    for (const origin of apiOrigins(config.Origins))
      expect(origin.OriginCustomHeaders).toEqual([
        {
          HeaderName: ORIGIN_VERIFY_HEADER,
          HeaderValue: { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secret.id }, ':SecretString:::}}']] },
        },
      ]);
    expect(secret.props.GenerateSecretString).toEqual({
      PasswordLength: 64,
      ExcludePunctuation: true,
      IncludeSpace: false,
    });
    expect(secret.props.SecretString).toBeUndefined();
    expect(secret.props.Name).toBeUndefined(); // generated: outside the credential writer's cubicle/acme/ prefix
    expect(secret.resource.DeletionPolicy).toBe('Retain');
    expect(secret.props.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^OriginVerifyKey/), 'Arn'] });
    expect(controlPlane.Resources[secret.props.KmsKeyId['Fn::GetAtt'][0]].Properties.EnableKeyRotation).toBe(true);
  });

  it("the API and credential functions get the secret's ARN with read access to it alone, decrypting only through Secrets Manager", () => {
    for (const name of ['api', 'credentials', 'relay-device'] as const) {
      const fn = functionOf(controlPlane, name).resource;
      expect(fn.Properties.Environment.Variables[ORIGIN_VERIFY_SECRET_ENV]).toEqual({ Ref: secret.id });
      const statements = statementsOf(controlPlane, name);
      const reads = statements.filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
      expect(reads).toEqual([
        { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: secret.id } },
      ]);
      const decrypt = statements.filter((s) => JSON.stringify(s.Resource).includes('OriginVerifyKey'));
      expect(decrypt).toEqual([
        {
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: { 'Fn::GetAtt': [secret.props.KmsKeyId['Fn::GetAtt'][0], 'Arn'] },
          Condition: {
            StringEquals: {
              'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com',
              'kms:EncryptionContext:SecretARN': { Ref: secret.id },
            },
          },
        },
      ]);
    }
    for (const name of ['task-events', 'reaper'] as const) {
      expect(
        functionOf(controlPlane, name).resource.Properties.Environment.Variables[ORIGIN_VERIFY_SECRET_ENV],
      ).toBeUndefined();
    }
  });

  it('sets every security header, overriding the origin', () => {
    const policy = headersPolicy.props.ResponseHeadersPolicyConfig;
    expect(policy.SecurityHeadersConfig).toEqual({
      StrictTransportSecurity: {
        AccessControlMaxAgeSec: 63072000,
        IncludeSubdomains: true,
        Preload: true,
        Override: true,
      },
      ContentSecurityPolicy: { ContentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'", Override: true },
      ContentTypeOptions: { Override: true },
      ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
      FrameOptions: { FrameOption: 'DENY', Override: true },
    });
    expect(policy.CustomHeadersConfig).toEqual({
      Items: [{ Header: 'Permissions-Policy', Value: SECURITY_HEADERS.permissionsPolicy, Override: true }],
    });
    expect(HSTS_MAX_AGE_SECONDS).toBe(63072000);
    expect(SECURITY_HEADERS.permissionsPolicy).toMatch(/camera=\(\), .*microphone=\(\)/);
  });

  it('without edge.domain: the default *.cloudfront.net certificate, no aliases; the URL output is the distribution', () => {
    expect(config.ViewerCertificate).toBeUndefined();
    expect(config.Aliases).toBeUndefined();
    expect((controlPlane as any).Outputs.ApiUrl.Value).toEqual({
      'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distribution.id, 'DomainName'] }]],
    });
    expect((controlPlane as any).Outputs.OriginSecretArn.Value).toEqual({ Ref: secret.id });
  });
});

describe('access logs (acme-EdgeLogs, us-east-1)', () => {
  const logs = templates.get('acme-EdgeLogs')!;

  it('is deployed to us-east-1, after the ControlPlane stack', () => {
    const manifest = JSON.parse(readFileSync(path.join(inject('exampleAssemblyDir'), 'manifest.json'), 'utf8'));
    expect(manifest.artifacts['acme-EdgeLogs'].environment).toBe('aws://111111111111/us-east-1');
    expect(manifest.artifacts['acme-EdgeLogs'].dependencies).toContain('acme-ControlPlane');
  });

  it("delivers the distribution's access logs to an encrypted, retained log group", () => {
    const source = only(logs, 'AWS::Logs::DeliverySource');
    expect(source.props.LogType).toBe('ACCESS_LOGS');
    const [prefix, ref] = source.props.ResourceArn['Fn::Join'][1];
    expect(prefix).toBe('arn:aws:cloudfront::111111111111:distribution/');
    expect(ref['Fn::GetStackOutput']).toMatchObject({ StackName: 'acme-ControlPlane', Region: 'eu-west-1' });
    expect((controlPlane as any).Outputs[ref['Fn::GetStackOutput'].OutputName].Value).toEqual({ Ref: distribution.id });

    const group = only(logs, 'AWS::Logs::LogGroup');
    expect(group.props.RetentionInDays).toBe(365);
    expect(group.props.KmsKeyId).toBeDefined();
    expect(group.resource.DeletionPolicy).toBe('Retain');
    const destination = only(logs, 'AWS::Logs::DeliveryDestination');
    expect(destination.props).toMatchObject({
      DestinationResourceArn: { 'Fn::GetAtt': [group.id, 'Arn'] },
      OutputFormat: 'json',
    });
    const delivery = only(logs, 'AWS::Logs::Delivery');
    expect(delivery.props).toMatchObject({
      DeliverySourceName: { Ref: source.id },
      DeliveryDestinationArn: { 'Fn::GetAtt': [destination.id, 'Arn'] },
    });
  });
});

describe('with a custom domain, Bot Control and a pinned origin secret version (one synth, every compliance check)', () => {
  const CERTIFICATE = 'arn:aws:acm:us-east-1:111111111111:certificate/1234abcd-12ab-34cd-56ef-1234567890ab';
  const VERSION = '3f1c2b9e-8d7a-4c6b-9e5f-0a1b2c3d4e5f';
  const text = exampleConfigText().replace(
    /^logs:.*$/m,
    (line) =>
      `${line}\nedge: { rateLimit: 2000, managedRules: { botControl: true }, originSecretVersion: ${VERSION}, domain: { name: api.acme.example, certificateArn: "${CERTIFICATE}" } }`,
  );
  const domainConfig = parseConfigText(text, 'config/domain.yaml');
  // synthesize() runs cdk-nag and cfn-guard as `cdk synth` does and throws on any finding.
  const synth = synthesize(domainConfig);
  const cp = synth.template('acme-ControlPlane').toJSON() as TemplateJson;
  const dist = only(cp, 'AWS::CloudFront::Distribution').props.DistributionConfig;

  it('serves the domain with its us-east-1 certificate, SNI and TLSv1.2_2021', () => {
    expect(dist.Aliases).toEqual(['api.acme.example']);
    expect(dist.ViewerCertificate).toEqual({
      AcmCertificateArn: CERTIFICATE,
      MinimumProtocolVersion: 'TLSv1.2_2021',
      SslSupportMethod: 'sni-only',
    });
    expect((cp as any).Outputs.ApiUrl.Value).toBe('https://api.acme.example');
  });

  it("the console's sign-in callback and sign-out address are the domain", () => {
    const [[, client]] = resourcesOfType(cp, 'AWS::Cognito::UserPoolClient').filter(([id]) =>
      id.startsWith('IdentityEmployeesConsole'),
    );
    expect(client.Properties.CallbackURLs).toEqual(['https://api.acme.example/']);
    expect(client.Properties.LogoutURLs).toEqual(['https://api.acme.example/']);
  });

  it("passes Control Tower's certificate, SNI and TLS controls (they are checked, not disabled)", () => {
    const disabled = Object.keys(disabledControlTowerRules(domainConfig));
    expect(disabled.filter((r) => r.startsWith('ct-cloudfront'))).toEqual(['ct-cloudfront-pr-4', 'ct-cloudfront-pr-5']);
    const report = JSON.parse(readFileSync(path.join(synth.outdir, 'validation-report.json'), 'utf8'));
    // The report lists only plugins with findings; synthesize() would have thrown on any.
    const guard = report.pluginReports.filter((p: any) => p.pluginName === 'cdk-validator-cfnguard');
    expect(guard.flatMap((p: any) => p.violations)).toEqual([]);
  });

  it('pins the header to the configured secret version', () => {
    const [header] = apiOrigins(dist.Origins)[0].OriginCustomHeaders;
    expect(header.HeaderValue['Fn::Join'][1][2]).toBe(`:SecretString:::${VERSION}}}`);
  });

  it('takes the rate limit and Bot Control from the config', () => {
    const acl = only(synth.template('acme-Edge').toJSON() as TemplateJson, 'AWS::WAFv2::WebACL').props;
    expect(acl.Rules.map((r: any) => [r.Name, r.Priority])).toEqual([
      ['AWSManagedRulesAmazonIpReputationList', 0],
      ['AWSManagedRulesAnonymousIpList', 1],
      ['RateLimitPerIp', 2],
      ['AWSManagedRulesCommonRuleSet', 3],
      ['AWSManagedRulesKnownBadInputsRuleSet', 4],
      ['AWSManagedRulesBotControlRuleSet', 5],
    ]);
    expect(acl.Rules[2].Statement.RateBasedStatement.Limit).toBe(2000);
  });
});
