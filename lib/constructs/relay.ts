import { executeApiHost } from './aws-hosts';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { RELAY_ENV } from '../../runtime/shared/function-contract';
import { recordSealerRoleName } from '../../runtime/shared/names';
import { TABLES, type TableName } from '../../runtime/shared/tables';
import { CubicleFunction } from './cubicle-function';
import {
  bindRecordOpener,
  bindRecordSealer,
  bindTable,
  bindTokenVerifier,
  type TokenIssuer,
} from './control-plane-grants';
import type { OriginVerifySecret } from './edge-origin-secret';
import type { FunctionBase } from './employee-api';
import { EncryptedLogGroup } from './encrypted-log-group';

/** Stage names: the device API is reached at `/relay` on its origin (CloudFront maps `/v1/relay` there). */
export const DEVICE_STAGE = 'relay';
export const RUNTIME_STAGE = 'runtime';

export interface RelayProps {
  readonly base: FunctionBase;
  readonly deployment: string;
  readonly rosterFile: string;
  readonly issuer: TokenIssuer;
  readonly tables: Record<TableName, dynamodb.ITable>;
  readonly tableKey: kms.IKey;
  readonly originSecret: OriginVerifySecret;
  /** Messages per second across each API (API Gateway stage throttling), and the burst above it. */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
}

/** API Gateway's WebSocket access log line: who connected or sent what, the outcome; never frames or headers. */
const ACCESS_LOG_FORMAT = apigw.AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    connectionId: '$context.connectionId',
    eventType: '$context.eventType',
    routeKey: '$context.routeKey',
    status: '$context.status',
    sourceIp: '$context.identity.sourceIp',
    caller: '$context.identity.userArn',
    integrationError: '$context.integrationErrorMessage',
  }),
);

/**
 * The relay (README "Relay"): two API Gateway WebSocket APIs and three functions.
 * - Devices: the device API behind CloudFront at /v1/relay; its `$connect` verifies the bearer JWT of
 *   the `bearer.<JWT>` subprotocol itself (and CloudFront's origin header).
 * - Runtimes: the runtime API, `$connect` authorized with IAM (only agent task roles are granted
 *   execute-api:Invoke on it, by the fleet), then nonce-HMAC'd frames; reached directly by the tasks.
 * - Fan-out: the Events and Inbox streams to subscribed devices and nudged runtimes.
 * Each function may post only to its own API's @connections (execute-api:ManageConnections).
 */
export class Relay extends Construct {
  readonly deviceApi: apigwv2.WebSocketApi;
  readonly runtimeApi: apigwv2.WebSocketApi;
  readonly deviceStage: apigwv2.WebSocketStage;
  readonly runtimeStage: apigwv2.WebSocketStage;
  readonly deviceFunction: CubicleFunction;
  readonly runtimeFunction: CubicleFunction;
  readonly fanoutFunction: CubicleFunction;

  constructor(scope: Construct, id: string, props: RelayProps) {
    super(scope, id);
    const { tables, tableKey: key } = props;
    const stack = Stack.of(this);

    this.deviceFunction = new CubicleFunction(this, 'DeviceFunction', {
      ...props.base,
      handler: 'relay-device',
      description: 'relay for devices (WebSocket /v1/relay: token at the handshake, subscriptions, replay)',
      rosterFile: props.rosterFile,
      // Named: every user key's policy admits it, by this name, to open that user's records for devices.
      roleName: recordSealerRoleName(props.deployment, 'relay-device'),
    });
    bindRecordOpener(this.deviceFunction, props.deployment);
    bindTokenVerifier(this.deviceFunction, props.issuer);
    props.originSecret.bindReader(this.deviceFunction);
    bindTable(this.deviceFunction, 'events', { table: tables.events, key, actions: ['dynamodb:Query'] });
    bindTable(this.deviceFunction, 'connections', {
      writer: 'relay-device',
      table: tables.connections,
      key,
      actions: CONNECTION_ACTIONS,
    });

    this.runtimeFunction = new CubicleFunction(this, 'RuntimeFunction', {
      ...props.base,
      handler: 'relay-runtime',
      description: 'relay for agent runtimes (task identity, nonce, HMAC frames; writes their rows)',
      rosterFile: props.rosterFile,
      // Named: every user key's policy admits it, by this name, to seal a runtime's events and approvals.
      roleName: recordSealerRoleName(props.deployment, 'relay-runtime'),
    });
    bindRecordSealer(this.runtimeFunction, props.deployment);
    this.runtimeFunction.setEnv(RELAY_ENV.deployment, props.deployment);
    this.runtimeFunction.setEnv(RELAY_ENV.account, stack.account);
    bindTable(this.runtimeFunction, 'sessions', {
      writer: 'relay-runtime',
      table: tables.sessions,
      key,
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    });
    bindTable(this.runtimeFunction, 'inbox', {
      writer: 'relay-runtime',
      table: tables.inbox,
      key,
      actions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    });
    bindTable(this.runtimeFunction, 'events', {
      writer: 'relay-runtime',
      table: tables.events,
      key,
      actions: ['dynamodb:Query', 'dynamodb:PutItem'],
    });
    bindTable(this.runtimeFunction, 'approvals', {
      writer: 'relay-runtime',
      table: tables.approvals,
      key,
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    });
    bindTable(this.runtimeFunction, 'connections', {
      writer: 'relay-runtime',
      table: tables.connections,
      key,
      actions: CONNECTION_ACTIONS,
    });
    // A runtime's usage events become the monthly counters (ADD, the 80 % claim) and hold its inbox at 100 %.
    bindTable(this.runtimeFunction, 'usage', {
      writer: 'relay-runtime',
      table: tables.usage,
      key,
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    });

    this.fanoutFunction = new CubicleFunction(this, 'FanoutFunction', {
      ...props.base,
      handler: 'relay-fanout',
      description: 'relay fan-out (Events and Inbox streams to devices and runtimes)',
      // Named: every user key's policy admits it, by this name, to open that user's records for devices.
      roleName: recordSealerRoleName(props.deployment, 'relay-fanout'),
    });
    bindRecordOpener(this.fanoutFunction, props.deployment);
    bindTable(this.fanoutFunction, 'events', { table: tables.events, key, actions: ['dynamodb:Query'] });
    // Only the Inbox stream's keys (pairs with a new message), never its items.
    this.fanoutFunction.setEnv(TABLES.inbox.envVar, tables.inbox.tableName);
    bindTable(this.fanoutFunction, 'connections', {
      writer: 'relay-fanout',
      table: tables.connections,
      key,
      actions: CONNECTION_ACTIONS,
    });
    // The Events and Inbox streams. Not DynamoEventSource: its grant adds kms:Decrypt on the platform
    // key without kms:ViaService; the key is usable here only through DynamoDB (bindTable above).
    const streams = [tables.events, tables.inbox].map((table) => table.tableStreamArn as string);
    this.fanoutFunction.allow(
      new iam.PolicyStatement({
        actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
        resources: streams,
      }),
    );
    // ListStreams has no resource to scope (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html).
    this.fanoutFunction.allow(new iam.PolicyStatement({ actions: ['dynamodb:ListStreams'], resources: ['*'] }));
    for (const [i, eventSourceArn] of streams.entries()) {
      new lambda.EventSourceMapping(this, i === 0 ? 'EventsStream' : 'InboxStream', {
        target: this.fanoutFunction.function,
        eventSourceArn,
        startingPosition: lambda.StartingPosition.LATEST,
        batchSize: 100,
        retryAttempts: 10,
        reportBatchItemFailures: true,
        maxRecordAge: Duration.hours(2),
      });
    }
    Validations.of(this.fanoutFunction.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only actions without resource-level permissions use "*": dynamodb:ListStreams (the stream source), X-Ray PutTraceSegments/PutTelemetryRecords and the EC2 network-interface actions Lambda performs in a VPC.',
    });

    const accessLogs = new EncryptedLogGroup(this, 'AccessLogs', {
      retentionDays: props.base.logRetentionDays,
      purpose: 'relay access logs',
      encryptionKey: props.base.logKey,
    });
    const throttle = props.throttle ?? { rateLimit: 500, burstLimit: 1000 };

    this.deviceApi = new apigwv2.WebSocketApi(this, 'DeviceApi', {
      description: "Cubicle relay for employees' devices (behind CloudFront at /v1/relay)",
      routeSelectionExpression: '$request.body.type',
      connectRouteOptions: {
        integration: new WebSocketLambdaIntegration('DeviceConnect', this.deviceFunction.function),
      },
      disconnectRouteOptions: {
        integration: new WebSocketLambdaIntegration('DeviceDisconnect', this.deviceFunction.function),
      },
      defaultRouteOptions: {
        integration: new WebSocketLambdaIntegration('DeviceDefault', this.deviceFunction.function),
      },
    });
    this.deviceStage = new apigwv2.WebSocketStage(this, 'DeviceStage', {
      webSocketApi: this.deviceApi,
      stageName: DEVICE_STAGE,
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs.logGroup),
        format: ACCESS_LOG_FORMAT,
      },
    });

    this.runtimeApi = new apigwv2.WebSocketApi(this, 'RuntimeApi', {
      description: 'Cubicle relay for agent runtimes ($connect: IAM, the agent task roles)',
      routeSelectionExpression: '$request.body.type',
      connectRouteOptions: {
        integration: new WebSocketLambdaIntegration('RuntimeConnect', this.runtimeFunction.function),
        authorizer: new WebSocketIamAuthorizer(),
      },
      disconnectRouteOptions: {
        integration: new WebSocketLambdaIntegration('RuntimeDisconnect', this.runtimeFunction.function),
      },
      defaultRouteOptions: {
        integration: new WebSocketLambdaIntegration('RuntimeDefault', this.runtimeFunction.function),
      },
    });
    this.runtimeStage = new apigwv2.WebSocketStage(this, 'RuntimeStage', {
      webSocketApi: this.runtimeApi,
      stageName: RUNTIME_STAGE,
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs.logGroup),
        format: ACCESS_LOG_FORMAT,
      },
    });

    for (const api of [this.deviceApi, this.runtimeApi]) {
      for (const route of api.node.findAll().filter((c): c is apigwv2.CfnRoute => c instanceof apigwv2.CfnRoute)) {
        if (route.routeKey === '$connect' && api === this.runtimeApi) continue; // AWS_IAM
        Validations.of(route).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            route.routeKey === '$connect'
              ? "The device $connect is authorized by its function: the bearer JWT of the bearer.<JWT> subprotocol, verified with the issuer's keys (runtime/control-plane/auth), and CloudFront's origin header; anything else is refused at the handshake (401/403)."
              : "A WebSocket API authorizes at $connect only (API Gateway accepts no authorizer on other routes); every frame of this route belongs to a connection authorized there, and runtime frames carry an HMAC under the task's nonce.",
        });
      }
    }

    this.bindConnections(this.deviceFunction, RELAY_ENV.deviceEndpoint, this.deviceApi, DEVICE_STAGE);
    this.bindConnections(this.runtimeFunction, RELAY_ENV.runtimeEndpoint, this.runtimeApi, RUNTIME_STAGE);
    this.bindConnections(this.fanoutFunction, RELAY_ENV.deviceEndpoint, this.deviceApi, DEVICE_STAGE);
    this.bindConnections(this.fanoutFunction, RELAY_ENV.runtimeEndpoint, this.runtimeApi, RUNTIME_STAGE);

    for (const fn of [this.deviceFunction, this.runtimeFunction]) {
      Validations.of(fn.function).acknowledge({
        id: 'NIST.800.53.R5-LambdaDLQ',
        reason:
          'Invoked synchronously by API Gateway: a failure is answered on the connection (an error frame, or a refused handshake), so a dead-letter queue would never receive anything.',
      });
    }
    Validations.of(this.fanoutFunction.function).acknowledge({
      id: 'NIST.800.53.R5-LambdaDLQ',
      reason:
        'A DynamoDB stream source retries a failed batch (10 attempts, 2 hours); a device that missed an event catches up from its cursor on its next subscribe, and a runtime re-reads on reconnect and on its safety timer.',
    });
    // API Gateway invokes with this account as the source (Control Tower CT.LAMBDA.PR.2).
    for (const child of [...this.deviceApi.node.findAll(), ...this.runtimeApi.node.findAll()]) {
      if (child instanceof lambda.CfnPermission) child.sourceAccount = stack.account;
    }
  }

  /** The runtime API's stage URL (what tasks connect to). */
  get runtimeUrl(): string {
    return this.runtimeStage.url;
  }

  /** execute-api:Invoke on exactly the runtime API's `$connect`: what an agent task role is granted. */
  get runtimeConnectArn(): string {
    return Stack.of(this).formatArn({
      service: 'execute-api',
      resource: this.runtimeApi.apiId,
      resourceName: `${RUNTIME_STAGE}/$connect`,
    });
  }

  /** The callback URL in `envVar`, and ManageConnections on that API stage's @connections only (post and close). */
  private bindConnections(fn: CubicleFunction, envVar: string, api: apigwv2.WebSocketApi, stage: string): void {
    const stack = Stack.of(this);
    fn.setEnv(envVar, `https://${executeApiHost(this, api.apiId)}/${stage}`);
    const connections = ['POST', 'DELETE'].map((method) =>
      stack.formatArn({
        service: 'execute-api',
        resource: api.apiId,
        resourceName: `${stage}/${method}/@connections/*`,
      }),
    );
    fn.allow(new iam.PolicyStatement({ actions: ['execute-api:ManageConnections'], resources: connections }));
    // cdk-nag names the API's Ref by its logical id in the finding.
    const apiRef = `<${stack.resolve(stack.getLogicalId(api.node.defaultChild as apigwv2.CfnApi))}>`;
    for (const method of ['POST', 'DELETE']) {
      const resource = `arn:${stack.partition}:execute-api:${stack.region}:${stack.account}:${apiRef}/${stage}/${method}/@connections/*`;
      Validations.of(fn.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason:
          "Connection ids are chosen by API Gateway at connect time; the grant is this one API stage's @connections (post and close) and nothing else.",
      });
    }
  }
}

/**
 * Control Tower rules no WebSocket API can pass, with the reason (README "Security"; compliance.ts
 * disables them by name: cfn-guard findings are never acknowledged).
 */
export const DISABLED_RELAY_RULES: Record<string, string> = {
  'ct-apigateway-pr-5':
    'API Gateway WebSocket APIs take an authorization type on $connect only ($disconnect and $default must be NONE), and the rule wants one on every route. The relay authorizes at $connect (runtime API: AWS_IAM; device API: the bearer JWT verified by the $connect function) and binds every later frame to that connection; tests assert every HTTP API route is JWT-authorized and the runtime $connect is AWS_IAM.',
};

/** What the relay functions do with the Connections table: its own rows, never Scan. */
const CONNECTION_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
] as const;
