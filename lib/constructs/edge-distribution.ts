import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import { Construct } from 'constructs';
import { ORIGIN_VERIFY_HEADER } from '../../runtime/shared/function-contract';
import { RELAY_PATH } from '../../runtime/shared/relay-protocol';
import { EdgeConfig } from '../config/schema';
import { DEVICE_STAGE } from './relay';
import { OriginVerifySecret } from './edge-origin-secret';

/** The path pattern of the API behavior; everything else is answered at the edge. */
export const API_PATH_PATTERN = '/v1/*';

/** Security headers on every response, whatever the origin sent (`override`). */
export const SECURITY_HEADERS = {
  strictTransportSecurity: 'max-age=63072000; includeSubDomains; preload',
  contentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
  contentTypeOptions: 'nosniff',
  referrerPolicy: 'no-referrer',
  frameOptions: 'DENY',
  permissionsPolicy:
    'accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=(), interest-cohort=()',
} as const;

/** HSTS max-age: two years, the preload list's expectation. */
export const HSTS_MAX_AGE_SECONDS = 2 * 365 * 24 * 3600;

/**
 * Viewer-request function of the default behavior: only the console's files reach its bucket (`/`,
 * `/index.html`, `/config.json`, `/assets/<file>`); any other path outside /v1/ gets a JSON 404 from the
 * edge (scanners for /.env, /wp-admin and the like stop here). JavaScript runtime 2.0.
 */
export const NOT_FOUND_FUNCTION_CODE = `function handler(event) {
  var uri = event.request.uri;
  if (uri === '/' || uri === '/index.html' || uri === '/config.json' || /^\\/assets\\/[A-Za-z0-9._-]+$/.test(uri)) {
    return event.request;
  }
  return {
    statusCode: 404,
    statusDescription: 'Not Found',
    headers: {
      'content-type': { value: 'application/json; charset=utf-8' },
      'cache-control': { value: 'no-store' }
    },
    body: { encoding: 'text', data: '{"message":"Not found. The Cubicle API is under /v1/."}' }
  };
}
`;

/**
 * Viewer-request function of the relay behavior: API Gateway serves a WebSocket API only at `/<stage>`
 * (a longer path is a 403), so `/v1/relay` becomes `/relay`; and a URL with a query string is refused
 * here already (a token never belongs in a URL; the relay refuses it again). JavaScript runtime 2.0.
 */
export const RELAY_FUNCTION_CODE = `function handler(event) {
  var request = event.request;
  if (Object.keys(request.querystring).length > 0) {
    return {
      statusCode: 400,
      statusDescription: 'Bad Request',
      headers: { 'content-type': { value: 'application/json; charset=utf-8' }, 'cache-control': { value: 'no-store' } },
      body: { encoding: 'text', data: '{"message":"The relay URL takes no query string: offer the token as the bearer.<JWT> subprotocol."}' }
    };
  }
  request.uri = '/${DEVICE_STAGE}';
  return request;
}
`;

export interface EdgeDistributionProps {
  /** The employee HTTP API (its default execute-api endpoint is the origin). */
  readonly api: apigwv2.IHttpApi;
  /** The relay's device WebSocket API, served at RELAY_PATH (/v1/relay). */
  readonly relayApi: apigwv2.IWebSocketApi;
  /** ARN of the WAFv2 web ACL (scope CLOUDFRONT, us-east-1). */
  readonly webAclArn: string;
  readonly edge: EdgeConfig;
  readonly originSecret: OriginVerifySecret;
  /** The employee console (lib/constructs/console-site.ts), served by the default behavior at `/`. */
  readonly console?: {
    readonly origin: cloudfront.IOrigin;
    readonly responseHeaders: cloudfront.IResponseHeadersPolicy;
  };
}

/**
 * The CloudFront distribution in front of the employee API: WAF, HTTPS only (viewer and origin), no
 * caching, the security headers on every behavior, and the origin-verify header the API checks.
 */
export class EdgeDistribution extends Construct {
  readonly distribution: cloudfront.Distribution;
  readonly responseHeaders: cloudfront.ResponseHeadersPolicy;
  /** The public base URL of the API (custom domain if configured). */
  readonly url: string;

  constructor(scope: Construct, id: string, props: EdgeDistributionProps) {
    super(scope, id);
    const { edge } = props;

    this.responseHeaders = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'Cubicle: security headers on every API response',
      securityHeadersBehavior: {
        strictTransportSecurity: {
          accessControlMaxAge: Duration.seconds(HSTS_MAX_AGE_SECONDS),
          includeSubdomains: true,
          preload: true,
          override: true,
        },
        contentSecurityPolicy: { contentSecurityPolicy: SECURITY_HEADERS.contentSecurityPolicy, override: true },
        contentTypeOptions: { override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
      },
      customHeadersBehavior: {
        customHeaders: [{ header: 'Permissions-Policy', value: SECURITY_HEADERS.permissionsPolicy, override: true }],
      },
    });

    // The execute-api endpoint, HTTPS with TLS 1.2 only, with the origin-verify header (an origin custom
    // header takes precedence over a viewer header of the same name; a viewer would need the value anyway).
    // https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/add-origin-custom-headers.html
    const origin = new origins.HttpOrigin(`${props.api.apiId}.execute-api.${Stack.of(this).region}.amazonaws.com`, {
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
      customHeaders: { [ORIGIN_VERIFY_HEADER]: props.originSecret.headerValue(edge.originSecretVersion) },
      readTimeout: Duration.seconds(30), // API Gateway's own integration limit
    });

    // No caching: every response is per-employee. With caching disabled, the AllViewerExceptHostHeader
    // origin request policy forwards the Authorization header too (an origin request policy may not name
    // it explicitly; a caching policy would have to put it in the cache key). Host is not forwarded:
    // API Gateway routes on its own host name.
    // https://repost.aws/knowledge-center/cloudfront-authorization-header
    const apiBehavior: cloudfront.AddBehaviorOptions = {
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      responseHeadersPolicy: this.responseHeaders,
      compress: false,
    };
    // The relay: the same origin settings on the device WebSocket API. The origin request policy forwards
    // every viewer header (Sec-WebSocket-Key, -Version, -Protocol among them), as WebSockets need.
    // https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/distribution-working-with.websockets.html
    const relayOrigin = new origins.HttpOrigin(
      `${props.relayApi.apiId}.execute-api.${Stack.of(this).region}.amazonaws.com`,
      {
        protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
        originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
        customHeaders: { [ORIGIN_VERIFY_HEADER]: props.originSecret.headerValue(edge.originSecretVersion) },
        readTimeout: Duration.seconds(30),
      },
    );
    const relayPath = new cloudfront.Function(this, 'RelayPath', {
      comment: 'Cubicle: /v1/relay to the relay stage; no query strings',
      code: cloudfront.FunctionCode.fromInline(RELAY_FUNCTION_CODE),
      runtime: cloudfront.FunctionRuntime.JS_2_0,
    });
    const notFound = new cloudfront.Function(this, 'NotFound', {
      comment: 'Cubicle: JSON 404 for paths outside /v1/',
      code: cloudfront.FunctionCode.fromInline(NOT_FOUND_FUNCTION_CODE),
      runtime: cloudfront.FunctionRuntime.JS_2_0,
    });

    // With the default *.cloudfront.net certificate CloudFront fixes the viewer security policy itself
    // (TLSv1); a configured domain gets TLSv1.2_2021 and SNI.
    // https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/secure-connections-supported-viewer-protocols-ciphers.html
    const domain = edge.domain
      ? {
          domainNames: [edge.domain.name],
          certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', edge.domain.certificateArn),
          minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
          sslSupportMethod: cloudfront.SSLMethod.SNI,
        }
      : {};

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Cubicle employee API',
      webAclId: props.webAclArn,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      enableIpv6: true,
      defaultBehavior: props.console
        ? {
            // Static files, cached at the edge (pages say no-cache, assets are content-hashed); a browser
            // typing the plain http address is redirected (no token travels on that first request).
            origin: props.console.origin,
            viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
            responseHeadersPolicy: props.console.responseHeaders,
            compress: true,
            functionAssociations: [{ function: notFound, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
          }
        : {
            ...apiBehavior,
            origin,
            functionAssociations: [{ function: notFound, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
          },
      defaultRootObject: props.console ? 'index.html' : undefined,
      // In order: the relay's exact path first, then the rest of /v1/.
      additionalBehaviors: {
        [RELAY_PATH]: {
          ...apiBehavior,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
          origin: relayOrigin,
          functionAssociations: [{ function: relayPath, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
        },
        [API_PATH_PATTERN]: { ...apiBehavior, origin },
      },
      ...domain,
    });
    this.url = `https://${edge.domain?.name ?? this.distribution.distributionDomainName}`;

    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason:
        'Employees may work from anywhere; WAF blocks anonymizers and flagged addresses and rate-limits each IP instead of a country list.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR3',
      reason:
        'Access logs go to CloudWatch Logs through standard logging v2 (the <name>-EdgeLogs stack in us-east-1); the check only knows legacy S3 logging, which needs bucket ACLs.',
    });
    if (!edge.domain) {
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR4',
        reason:
          "Without edge.domain the distribution serves *.cloudfront.net with CloudFront's default certificate, whose viewer security policy CloudFront fixes; configuring a domain sets TLSv1.2_2021.",
      });
    }
  }
}

/**
 * Control Tower's CloudFront controls that the distribution cannot pass, by rule file name, with the
 * reason (README "Security"). The certificate controls pass once `edge.domain` is configured.
 */
export function disabledCloudFrontRules(edge: EdgeConfig): Record<string, string> {
  const rules: Record<string, string> = {
    'ct-cloudfront-pr-4':
      "One API origin in the home region (and the console's bucket): origin groups fail over only GET, HEAD and OPTIONS, and a second API origin would be a second control plane.",
    'ct-cloudfront-pr-5':
      'Access logs go to CloudWatch Logs through standard logging v2 (<name>-EdgeLogs stack); the rule accepts only legacy S3 logging, whose bucket must use ACLs (against CT.S3.PR.5).',
  };
  if (!edge.domain) {
    const why =
      "No edge.domain in the config: *.cloudfront.net is served with CloudFront's default certificate and security policy; the control passes once a domain and its us-east-1 certificate are configured.";
    rules['ct-cloudfront-pr-6'] = why;
    rules['ct-cloudfront-pr-7'] = why;
    rules['ct-cloudfront-pr-9'] = why;
  }
  return rules;
}
