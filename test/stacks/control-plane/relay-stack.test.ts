import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { RELAY_FUNCTION_CODE } from '../../../lib/constructs/edge-distribution';
import { RELAY_PATH } from '../../../runtime/shared/relay-protocol';
import { exampleTemplates, resourcesOfType } from '../../support/assembly';
import { actionsOf, functionOf, statementsOf, type FunctionName } from './support/template';

/** The relay as synthesized for the bundled example: APIs, stages, functions' grants, tables, streams, edge. */
const json = exampleTemplates().get('acme-ControlPlane')!;
const platform = exampleTemplates().get('acme-Platform')!;
const edge = json;
const websocketApis = resourcesOfType(json, 'AWS::ApiGatewayV2::Api').filter(
  ([, r]) => r.Properties.ProtocolType === 'WEBSOCKET',
);
const apiId = (match: RegExp) => websocketApis.find(([, r]) => match.test(r.Properties.Description))![0];
const DEVICE = apiId(/devices/);
const RUNTIME = apiId(/agent runtimes/);
const routesOf = (api: string) =>
  resourcesOfType(json, 'AWS::ApiGatewayV2::Route')
    .filter(([, r]) => r.Properties.ApiId.Ref === api)
    .map(([, r]) => r.Properties);

/** The @connections ARNs a statement grants, as `<api logical id>/<stage>/<method>`. */
function connectionGrants(name: FunctionName): string[] {
  return statementsOf(json, name)
    .filter((s) => actionsOf(s).includes('execute-api:ManageConnections'))
    .flatMap((s) => {
      expect(actionsOf(s)).toEqual(['execute-api:ManageConnections']);
      return ([] as unknown[]).concat(s.Resource).map((r) => {
        const [, parts] = (r as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
        expect(parts[0]).toBe('arn:aws:execute-api:eu-west-1:111111111111:');
        return `${(parts[1] as { Ref: string }).Ref}${parts[2]}`;
      });
    })
    .sort();
}

describe('relay APIs', () => {
  it("two WebSocket APIs: the runtime $connect is IAM-authorized, the device $connect is the function's (bearer subprotocol)", () => {
    expect(websocketApis).toHaveLength(2);
    const runtime = routesOf(RUNTIME);
    const device = routesOf(DEVICE);
    expect(runtime.map((r) => r.RouteKey).sort()).toEqual(['$connect', '$default', '$disconnect']);
    expect(device.map((r) => r.RouteKey).sort()).toEqual(['$connect', '$default', '$disconnect']);
    expect(runtime.find((r) => r.RouteKey === '$connect')?.AuthorizationType).toBe('AWS_IAM');
    for (const r of [...device, ...runtime.filter((x) => x.RouteKey !== '$connect')])
      expect(r.AuthorizationType ?? 'NONE').toBe('NONE');
  });

  it('stages `relay` and `runtime`: throttled, access-logged without frames or headers, no data trace', () => {
    const stages = resourcesOfType(json, 'AWS::ApiGatewayV2::Stage').filter(([, r]) =>
      [DEVICE, RUNTIME].includes(r.Properties.ApiId.Ref),
    );
    expect(stages.map(([, r]) => r.Properties.StageName).sort()).toEqual(['relay', 'runtime']);
    for (const [, stage] of stages) {
      expect(stage.Properties.DefaultRouteSettings).toMatchObject({
        ThrottlingRateLimit: 500,
        ThrottlingBurstLimit: 1000,
      });
      expect(stage.Properties.DefaultRouteSettings.DataTraceEnabled).not.toBe(true);
      const format = stage.Properties.AccessLogSettings.Format as string;
      expect(format).toContain('$context.connectionId');
      expect(format).not.toMatch(/body|header|authorization/i);
    }
  });

  it("each function may post to and close only its own API stage's connections; the API functions none", () => {
    expect(connectionGrants('relay-device')).toEqual([
      `${DEVICE}/relay/DELETE/@connections/*`,
      `${DEVICE}/relay/POST/@connections/*`,
    ]);
    expect(connectionGrants('relay-runtime')).toEqual([
      `${RUNTIME}/runtime/DELETE/@connections/*`,
      `${RUNTIME}/runtime/POST/@connections/*`,
    ]);
    expect(connectionGrants('relay-fanout')).toEqual(
      [
        `${DEVICE}/relay/DELETE/@connections/*`,
        `${DEVICE}/relay/POST/@connections/*`,
        `${RUNTIME}/runtime/DELETE/@connections/*`,
        `${RUNTIME}/runtime/POST/@connections/*`,
      ].sort(),
    );
    for (const name of ['api', 'credentials', 'task-events', 'reaper'] as FunctionName[]) {
      expect(
        statementsOf(json, name)
          .flatMap(actionsOf)
          .filter((a) => a.startsWith('execute-api:')),
      ).toEqual([]);
    }
    // No execute-api grant anywhere on "*".
    for (const name of ['relay-device', 'relay-runtime', 'relay-fanout'] as FunctionName[]) {
      for (const s of statementsOf(json, name))
        if (actionsOf(s).some((a) => a.startsWith('execute-api:'))) expect(JSON.stringify(s.Resource)).not.toBe('"*"');
    }
  });

  it("the runtime function writes the runtime's rows; the device function reads events only; none scans", () => {
    const dynamo = (name: FunctionName) =>
      statementsOf(json, name)
        .flatMap(actionsOf)
        .filter((a) => a.startsWith('dynamodb:'));
    for (const name of ['relay-device', 'relay-runtime', 'relay-fanout'] as FunctionName[]) {
      expect(dynamo(name)).not.toContain('dynamodb:Scan');
      expect(dynamo(name).filter((a) => /Batch|Transact|PartiQL/.test(a))).toEqual([]);
    }
    expect(dynamo('relay-runtime')).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem']));
    expect(new Set(dynamo('relay-device'))).toEqual(
      new Set(['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']),
    );
  });

  it('the device and API functions verify tokens themselves: issuer, audience and kind in their environment', () => {
    for (const name of ['api', 'credentials', 'relay-device'] as FunctionName[]) {
      const env = functionOf(json, name).resource.Properties.Environment.Variables;
      expect(env.CUBICLE_TOKEN_KIND, name).toBe('cognito');
      expect(JSON.stringify(env.CUBICLE_TOKEN_ISSUER), name).toContain('https://cognito-idp.eu-west-1.amazonaws.com/');
      expect(env.CUBICLE_TOKEN_AUDIENCE, name).toBeDefined();
    }
    expect(
      functionOf(json, 'relay-runtime').resource.Properties.Environment.Variables.CUBICLE_TOKEN_ISSUER,
    ).toBeUndefined();
  });

  it('the fan-out reads the Events and Inbox streams, reporting failed batch items, from the latest record', () => {
    // The audit archive reads the Events stream too (test/stacks/control-plane/audit-stack.test.ts).
    const fanout = { Ref: functionOf(json, 'relay-fanout').id };
    const mappings = resourcesOfType(json, 'AWS::Lambda::EventSourceMapping')
      .map(([, r]) => r.Properties)
      .filter((m) => m.FunctionName.Ref === fanout.Ref);
    expect(mappings).toHaveLength(2);
    for (const m of mappings) {
      expect(m.FunctionName).toEqual({ Ref: functionOf(json, 'relay-fanout').id });
      expect(m).toMatchObject({
        StartingPosition: 'LATEST',
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumRetryAttempts: 10,
      });
    }
    expect(mappings.map((m) => JSON.stringify(m.EventSourceArn)).join()).toMatch(
      /TablesEvents.*StreamArn|StreamArn.*TablesEvents/,
    );
  });
});

describe('Connections table and streams (Platform stack)', () => {
  const tables = resourcesOfType(platform, 'AWS::DynamoDB::Table');
  const table = (id: string) => tables.find(([logical]) => new RegExp(`^Tables${id}[0-9A-F]{8}$`).test(logical))![1];

  it('Connections: TTL, retained, platform key, point-in-time recovery, deletion protection', () => {
    const connections = table('Connections');
    expect(connections.DeletionPolicy).toBe('Retain');
    expect(connections.Properties).toMatchObject({
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
    });
  });

  it('Events stream new images, Inbox keys only (never message bodies), the rest none', () => {
    expect(table('Events').Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
    expect(table('Inbox').Properties.StreamSpecification).toEqual({ StreamViewType: 'KEYS_ONLY' });
    for (const id of ['Sessions', 'Approvals', 'Connections'])
      expect(table(id).Properties.StreamSpecification).toBeUndefined();
  });
});

describe('edge', () => {
  const [, distribution] = resourcesOfType(edge, 'AWS::CloudFront::Distribution')[0];
  const behaviors = distribution.Properties.DistributionConfig.CacheBehaviors as Record<string, any>[];

  it('serves /v1/relay before /v1/*, from the device API, HTTPS only, no caching, with the path function', () => {
    expect(behaviors.map((b) => b.PathPattern)).toEqual([RELAY_PATH, '/v1/*']);
    const relay = behaviors[0];
    expect(relay.ViewerProtocolPolicy).toBe('https-only');
    expect(relay.AllowedMethods.sort()).toEqual(['GET', 'HEAD']);
    const origin = distribution.Properties.DistributionConfig.Origins.find(
      (o: { Id: string }) => o.Id === relay.TargetOriginId,
    );
    expect(JSON.stringify(origin.DomainName)).toContain(DEVICE);
    expect(origin.CustomOriginConfig).toMatchObject({
      OriginProtocolPolicy: 'https-only',
      OriginSSLProtocols: ['TLSv1.2'],
    });
    expect(origin.OriginCustomHeaders.map((h: { HeaderName: string }) => h.HeaderName)).toEqual([
      'x-cubicle-origin-verify',
    ]);
    expect(relay.FunctionAssociations).toHaveLength(1);
  });

  it('the path function maps /v1/relay to the relay stage and refuses any query string at the edge', () => {
    const handler = (event: unknown) => runInNewContext(`${RELAY_FUNCTION_CODE}; handler(event)`, { event });
    const ok = handler({ request: { uri: RELAY_PATH, querystring: {}, headers: {} } });
    expect(ok.uri).toBe('/relay');
    const refused = handler({ request: { uri: RELAY_PATH, querystring: { token: { value: 'eyJ...' } }, headers: {} } });
    expect(refused.statusCode).toBe(400);
    expect(refused.body.data).not.toContain('eyJ');
  });
});
