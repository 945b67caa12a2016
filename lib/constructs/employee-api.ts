import { Stack, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { API_ROUTES, CREDENTIAL_ROUTES } from '../../runtime/control-plane/routes';
import { credentialWriterRoleName, recordSealerRoleName } from '../../runtime/shared/names';
import { TableName } from '../../runtime/shared/tables';
import { CubicleFunction, CubicleFunctionProps } from './cubicle-function';
import {
  bindRecordSealer,
  bindSecretWriter,
  bindTable,
  bindTaskStopper,
  bindTokenVerifier,
  LauncherOptions,
  TokenIssuer,
} from './control-plane-grants';
import { OriginVerifySecret } from './edge-origin-secret';
import { EncryptedLogGroup } from './encrypted-log-group';
import { EmployeeIdentity } from './identity';
import type { LauncherFunction } from './launcher-function';

/** What every control-plane function shares (network, logs). */
export type FunctionBase = Pick<
  CubicleFunctionProps,
  'vpc' | 'subnets' | 'securityGroup' | 'logRetentionDays' | 'logKey'
>;

export interface EmployeeApiProps {
  readonly base: FunctionBase;
  readonly identity: EmployeeIdentity;
  /** The roster directory file bundled with both functions. */
  readonly rosterFile: string;
  readonly tables: Record<TableName, dynamodb.ITable>;
  readonly tableKey: kms.IKey;
  readonly launcher: LauncherOptions;
  /** Starts the tasks a wake claims; the API function only invokes it. */
  readonly launcherFunction: LauncherFunction;
  /** The header value CloudFront adds; both functions refuse requests without it (origin protection). */
  readonly originSecret: OriginVerifySecret;
  /** Requests per second across the API, and the burst above it. */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
}

/** API Gateway's access log line: who called what and the outcome; never headers, tokens or bodies. */
const ACCESS_LOG_FORMAT = apigw.AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    sourceIp: '$context.identity.sourceIp',
    requestTime: '$context.requestTimeEpoch',
    routeKey: '$context.routeKey',
    status: '$context.status',
    responseLength: '$context.responseLength',
    integrationLatency: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
    authorizerError: '$context.authorizer.error',
    sub: '$context.authorizer.claims.sub',
  }),
);

/**
 * The employee HTTP API: every route behind the JWT authorizer. Credential routes go to their own
 * function whose role is the fleet's named credential writer; the rest go to the API function.
 */
export class EmployeeApi extends Construct {
  readonly api: apigwv2.HttpApi;
  readonly apiFunction: CubicleFunction;
  readonly credentialsFunction: CubicleFunction;

  constructor(scope: Construct, id: string, props: EmployeeApiProps) {
    super(scope, id);
    const { tables, tableKey: key } = props;

    this.apiFunction = new CubicleFunction(this, 'ApiFunction', {
      ...props.base,
      handler: 'api',
      description: 'employee API (agents, wake, sleep, messages, events, approvals)',
      rosterFile: props.rosterFile,
      // Named: every user key's policy admits it, by this name, to seal and open that user's records.
      roleName: recordSealerRoleName(props.launcher.deployment, 'api'),
    });
    bindTable(this.apiFunction, 'sessions', {
      writer: 'api',
      table: tables.sessions,
      key,
      actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
    });
    bindTable(this.apiFunction, 'inbox', { writer: 'api', table: tables.inbox, key, actions: ['dynamodb:PutItem'] });
    bindTable(this.apiFunction, 'events', {
      writer: 'api',
      table: tables.events,
      key,
      actions: ['dynamodb:Query', 'dynamodb:PutItem'],
    });
    // Idempotency-Key claims of POST /messages: claim, read back, store the answer (runtime/control-plane/idempotency.ts).
    bindTable(this.apiFunction, 'idempotency', {
      writer: 'api',
      table: tables.idempotency,
      key,
      actions: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    });
    bindTable(this.apiFunction, 'approvals', {
      writer: 'api',
      table: tables.approvals,
      key,
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
    });
    // Read only: the budget gate of POST /messages and GET /v1/usage (the relay's runtime side adds usage).
    bindTable(this.apiFunction, 'usage', { table: tables.usage, key, actions: ['dynamodb:GetItem'] });
    bindTaskStopper(this.apiFunction, props.launcher);
    props.launcherFunction.allowInvokeBy(this.apiFunction);
    bindRecordSealer(this.apiFunction, props.launcher.deployment);

    this.credentialsFunction = new CubicleFunction(this, 'CredentialWriterFunction', {
      ...props.base,
      handler: 'credentials',
      description: 'credential writer (PUT and DELETE /v1/credentials, /v1/connections/.../credential)',
      rosterFile: props.rosterFile,
      roleName: credentialWriterRoleName(props.launcher.deployment),
    });
    bindSecretWriter(this.credentialsFunction, props.launcher.deployment);
    for (const fn of [this.apiFunction, this.credentialsFunction]) bindTokenVerifier(fn, tokenIssuer(props.identity));
    // Revocations are recorded on the chains of the agents that used the credential.
    bindTable(this.credentialsFunction, 'events', {
      writer: 'credentials',
      table: tables.events,
      key,
      actions: ['dynamodb:Query', 'dynamodb:PutItem'],
    });
    props.originSecret.bindReader(this.apiFunction);
    props.originSecret.bindReader(this.credentialsFunction);
    for (const fn of [this.apiFunction, this.credentialsFunction]) {
      Validations.of(fn.function).acknowledge({
        id: 'NIST.800.53.R5-LambdaDLQ',
        reason:
          'Invoked synchronously by API Gateway only: a failure is returned to the caller (5xx with a request id), so a dead-letter queue would never receive anything.',
      });
    }

    const accessLogs = new EncryptedLogGroup(this, 'AccessLogs', {
      retentionDays: props.base.logRetentionDays,
      purpose: 'employee API access logs',
      encryptionKey: props.base.logKey,
    });
    this.api = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Cubicle employee API',
      createDefaultStage: false,
      defaultAuthorizer: new HttpJwtAuthorizer('Employees', props.identity.issuer, {
        jwtAudience: props.identity.audience,
        identitySource: ['$request.header.Authorization'],
      }),
    });
    this.api.addStage('Stage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 50, burstLimit: 100 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs.logGroup),
        format: ACCESS_LOG_FORMAT,
      },
    });

    const apiIntegration = new HttpLambdaIntegration('ApiIntegration', this.apiFunction.function);
    const credentialsIntegration = new HttpLambdaIntegration(
      'CredentialsIntegration',
      this.credentialsFunction.function,
    );
    for (const [keys, integration] of [
      [Object.values(API_ROUTES), apiIntegration],
      [Object.values(CREDENTIAL_ROUTES), credentialsIntegration],
    ] as const) {
      for (const routeKey of keys) {
        const [method, path] = routeKey.split(' ');
        this.api.addRoutes({ path, methods: [method as apigwv2.HttpMethod], integration });
      }
    }
    // API Gateway invokes with this account as the source: name it, besides the execute-api ARN
    // (Control Tower CT.LAMBDA.PR.2 reads only literal or same-template values).
    for (const child of this.api.node.findAll()) {
      if (child instanceof lambda.CfnPermission) child.sourceAccount = Stack.of(this).account;
    }
  }

  /** The API's own invoke URL (the default execute-api endpoint); it refuses requests that bypass CloudFront. */
  get url(): string {
    return this.api.apiEndpoint;
  }
}

/** The identity's token issuer as the functions' verifier sees it. */
export function tokenIssuer(identity: EmployeeIdentity): TokenIssuer {
  return { kind: identity.userPool ? 'cognito' : 'oidc', issuer: identity.issuer, audience: identity.audience };
}
