import { Assembly } from '../assembly';
import { listOf, principalsOf } from '../policies';
import { describeRule } from './compute';
import { Check, code, outcome } from './types';

/** Claim 10: every public entry point is a CloudFront distribution with WAF, HTTPS and security headers. */

const HEADERS: [string, (c: any) => boolean][] = [
  [
    'Strict-Transport-Security',
    (c) =>
      c?.StrictTransportSecurity?.Override === true &&
      Number(c.StrictTransportSecurity.AccessControlMaxAgeSec) >= 31536000,
  ],
  [
    'Content-Security-Policy',
    (c) => c?.ContentSecurityPolicy?.Override === true && Boolean(c.ContentSecurityPolicy.ContentSecurityPolicy),
  ],
  ['X-Content-Type-Options', (c) => c?.ContentTypeOptions?.Override === true],
  ['Referrer-Policy', (c) => c?.ReferrerPolicy?.Override === true],
  ['X-Frame-Options', (c) => c?.FrameOptions?.Override === true],
];

export const distributions: Check = {
  id: 'edge.distributions',
  claim: 10,
  title:
    'Every distribution has a WAF web ACL (AWS managed rule groups + a rate limit), HTTPS-only viewers and origins, and the security headers on every behavior',
  run({ assembly }) {
    const findings: string[] = [];
    const evidence: string[] = [];
    const acls = new Map(
      assembly
        .resources('AWS::WAFv2::WebACL')
        .map((a) => [assembly.resolver.getAtt(a.stack, a.logicalId, 'Arn'), { ref: a, props: assembly.props(a) }]),
    );
    const headerPolicies = new Map(
      assembly
        .resources('AWS::CloudFront::ResponseHeadersPolicy')
        .map((p) => [assembly.resolver.ref(p.stack, p.logicalId), assembly.props(p).ResponseHeadersPolicyConfig]),
    );
    const dists = assembly.resources('AWS::CloudFront::Distribution');
    for (const dist of dists) {
      const config = assembly.props(dist).DistributionConfig ?? {};
      const where = `distribution ${dist.stack} ${dist.logicalId}`;
      const acl = acls.get(String(config.WebACLId));
      if (!acl) findings.push(`${where}: no WAF web ACL of this assembly (WebACLId ${config.WebACLId ?? 'unset'})`);
      else {
        const rules = acl.props.Rules ?? [];
        const managed = rules.filter(
          (r: any) =>
            r.Statement?.ManagedRuleGroupStatement?.VendorName === 'AWS' && r.OverrideAction?.None !== undefined,
        );
        const rate = rules.filter((r: any) => r.Statement?.RateBasedStatement && r.Action?.Block !== undefined);
        if (acl.props.Scope !== 'CLOUDFRONT') findings.push(`${where}: web ACL scope ${acl.props.Scope}`);
        if (managed.length === 0) findings.push(`${where}: its web ACL enforces no AWS managed rule group`);
        if (rate.length === 0) findings.push(`${where}: its web ACL has no blocking rate-based rule`);
        evidence.push(
          `${where}: web ACL ${acl.ref.stack} ${acl.ref.logicalId} with ${managed.map((r: any) => code(r.Statement.ManagedRuleGroupStatement.Name)).join(', ')}; rate limit ${rate.map((r: any) => code(r.Statement.RateBasedStatement.Limit)).join(', ')} per ${rate[0]?.Statement.RateBasedStatement.EvaluationWindowSec ?? 300} s`,
        );
      }
      const behaviors = [
        { PathPattern: '(default)', ...config.DefaultCacheBehavior },
        ...(config.CacheBehaviors ?? []),
      ];
      for (const b of behaviors) {
        if (!['https-only', 'redirect-to-https'].includes(b.ViewerProtocolPolicy))
          findings.push(`${where} behavior ${b.PathPattern}: viewers may use ${b.ViewerProtocolPolicy}`);
        const policy = headerPolicies.get(String(b.ResponseHeadersPolicyId))?.SecurityHeadersConfig;
        for (const [header, ok] of HEADERS)
          if (!ok(policy))
            findings.push(`${where} behavior ${b.PathPattern}: ${header} is not set (with override) at the edge`);
      }
      for (const origin of config.Origins ?? []) {
        const custom = origin.CustomOriginConfig;
        if (!custom) continue;
        if (custom.OriginProtocolPolicy !== 'https-only')
          findings.push(`${where} origin ${origin.Id}: ${custom.OriginProtocolPolicy} to the origin`);
        if (listOf(custom.OriginSSLProtocols).some((p) => !/^TLSv1\.[23]$/.test(p)))
          findings.push(`${where} origin ${origin.Id}: allows ${listOf(custom.OriginSSLProtocols).join(', ')}`);
      }
      evidence.push(
        `${where}: ${behaviors.length} behaviors (${behaviors.map((b) => `${b.PathPattern} ${b.ViewerProtocolPolicy}`).join(', ')}), security headers policy on each unless listed below`,
      );
    }
    if (dists.length === 0)
      findings.push('no CloudFront distribution: nothing applies WAF and security headers to public requests');
    return outcome(evidence, findings);
  },
};

export const publicSurface: Check = {
  id: 'edge.public-surface',
  claim: 10,
  title:
    'Nothing else is public: every API is the origin of a distribution that sends it an origin-verify header; no open ingress, public function URLs or invocations, public buckets',
  run({ assembly, statements }) {
    const findings: string[] = [];
    const evidence: string[] = [];
    const origins = assembly
      .resources('AWS::CloudFront::Distribution')
      .flatMap((d) => assembly.props(d).DistributionConfig?.Origins ?? [])
      .map((o: any) => ({
        domain: String(o.DomainName),
        headers: (o.OriginCustomHeaders ?? []).map((h: any) => String(h.HeaderName)),
      }));
    for (const api of assembly.resources('AWS::ApiGatewayV2::Api', 'AWS::ApiGateway::RestApi')) {
      const id = assembly.resolver.ref(api.stack, api.logicalId);
      const props = assembly.props(api);
      const fronted = origins.filter((o) => o.domain.includes(id));
      if (fronted.length === 0 && iamOnly(assembly, api)) {
        evidence.push(
          `API ${api.stack} ${api.logicalId} (${props.ProtocolType ?? 'REST'}): not behind CloudFront, but every connection must be signed with AWS credentials (AWS_IAM on ${props.ProtocolType === 'WEBSOCKET' ? '$connect' : 'every route'})`,
        );
      } else if (fronted.length === 0 && props.DisableExecuteApiEndpoint !== true)
        findings.push(
          `API ${api.stack} ${api.logicalId} (${props.Name ?? ''}) is public and not behind a CloudFront distribution`,
        );
      else if (fronted.length > 0 && fronted.every((o) => o.headers.length === 0))
        findings.push(
          `API ${api.stack} ${api.logicalId} is behind CloudFront but its execute-api endpoint stays open and no origin header tells CloudFront's requests apart`,
        );
      else
        evidence.push(
          `API ${api.stack} ${api.logicalId} (${props.ProtocolType ?? 'REST'}): origin of a distribution that adds ${fronted
            .flatMap((o) => o.headers)
            .map(code)
            .join(', ')}`,
        );
    }
    for (const sg of assembly.resources('AWS::EC2::SecurityGroup', 'AWS::EC2::SecurityGroupIngress')) {
      const props = assembly.props(sg);
      for (const rule of sg.type === 'AWS::EC2::SecurityGroup' ? (props.SecurityGroupIngress ?? []) : [props]) {
        if (rule.CidrIp === '0.0.0.0/0' || rule.CidrIpv6 === '::/0')
          findings.push(`${sg.stack} ${sg.logicalId}: ingress from anywhere (${describeRule(rule)})`);
      }
    }
    for (const permission of assembly.resources('AWS::Lambda::Permission')) {
      const props = assembly.props(permission);
      if (props.Principal === '*' && !props.SourceArn && !props.SourceAccount)
        findings.push(`${permission.stack} ${permission.logicalId}: anyone may invoke ${props.FunctionName}`);
    }
    for (const url of assembly.resources('AWS::Lambda::Url'))
      if (assembly.props(url).AuthType === 'NONE')
        findings.push(`${url.stack} ${url.logicalId}: a public function URL`);
    for (const bucket of assembly.resources('AWS::S3::Bucket')) {
      const block = assembly.props(bucket).PublicAccessBlockConfiguration ?? {};
      if (
        !['BlockPublicAcls', 'BlockPublicPolicy', 'IgnorePublicAcls', 'RestrictPublicBuckets'].every(
          (k) => block[k] === true,
        )
      )
        findings.push(`bucket ${bucket.stack} ${bucket.logicalId} does not block public access`);
    }
    for (const lb of assembly.resources('AWS::ElasticLoadBalancingV2::LoadBalancer'))
      if (assembly.props(lb).Scheme !== 'internal')
        findings.push(`load balancer ${lb.stack} ${lb.logicalId} is internet-facing`);
    for (const s of statements.filter(
      (x) =>
        x.kind === 'resource' &&
        x.statement.Effect === 'Allow' &&
        principalsOf(x.statement).includes('*') &&
        !x.statement.Condition,
    )) {
      findings.push(
        `${s.stack} ${s.where}: allows ${listOf(s.statement.Action).join(', ')} to every principal without a condition`,
      );
    }
    evidence.push(`public entry points: ${publicEntryPoints(assembly).join(', ') || 'none'}`);
    return outcome(evidence, findings);
  },
};

/**
 * An API no unsigned request gets into: a WebSocket API whose `$connect` (the only route API Gateway
 * authorizes on a WebSocket API) or an HTTP API whose every route requires AWS_IAM.
 */
function iamOnly(assembly: Assembly, api: { stack: string; logicalId: string }): boolean {
  const props = assembly.props(api as never);
  const routes = assembly
    .resources('AWS::ApiGatewayV2::Route')
    // The raw template value: a route names its API with { Ref: <logical id> }.
    .filter(
      (r) =>
        r.stack === api.stack &&
        JSON.stringify(r.resource.Properties?.ApiId ?? '') === JSON.stringify({ Ref: api.logicalId }),
    )
    .map((r) => assembly.props(r));
  if (routes.length === 0) return false;
  if (props.ProtocolType === 'WEBSOCKET')
    return routes.find((r) => r.RouteKey === '$connect')?.AuthorizationType === 'AWS_IAM';
  return routes.every((r) => r.AuthorizationType === 'AWS_IAM');
}

/** What the internet can reach, by resource type: the "public surface" `--against` also compares. */
export function publicEntryPoints(assembly: Assembly): string[] {
  return [
    ...assembly.resources('AWS::CloudFront::Distribution').map((d) => `CloudFront ${d.stack} ${d.logicalId}`),
    ...assembly
      .resources('AWS::ApiGatewayV2::Api', 'AWS::ApiGateway::RestApi')
      .map((a) => `API ${a.stack} ${a.logicalId} (execute-api, origin-verify)`),
    ...assembly.resources('AWS::Cognito::UserPoolDomain').map((d) => `Cognito domain ${d.stack} ${d.logicalId}`),
    ...assembly.resources('AWS::Lambda::Url').map((u) => `function URL ${u.stack} ${u.logicalId}`),
    ...assembly
      .resources('AWS::ElasticLoadBalancingV2::LoadBalancer')
      .filter((l) => assembly.props(l).Scheme !== 'internal')
      .map((l) => `load balancer ${l.stack} ${l.logicalId}`),
  ];
}
