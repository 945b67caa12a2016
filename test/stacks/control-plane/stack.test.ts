import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { topBlocks } from '../../../lib/constructs/control-plane-network';
import { rosterDirectory } from '../../../lib/constructs/control-plane-roster';
import {
  DIRECTORY_SYNC_ACTIONS,
  DIRECTORY_SYNC_TYPE,
  rosterIdentityDigest,
} from '../../../lib/constructs/directory-sync';
import { API_ROUTES, CREDENTIAL_ROUTES } from '../../../runtime/control-plane/routes';
import { STARTED_BY } from '../../../runtime/shared/names';
import { TABLES } from '../../../runtime/shared/tables';
import { exampleTemplate, exampleTemplates, resourcesOfType } from '../../support/assembly';
import { exampleConfig } from '../../support/example-config';
import {
  actionsOf,
  functionOf,
  granting,
  outputName,
  roleIdOf,
  statementsOf,
  type FunctionName,
  type Statement,
} from './support/template';

const STACK = 'acme-ControlPlane';
const template = exampleTemplate(STACK);
const json = exampleTemplates().get(STACK)!;
const FUNCTIONS: FunctionName[] = ['api', 'credentials', 'task-events', 'reaper', 'scheduled-run'];
const CLUSTER_ARN_OUTPUT = /ClusterEB0386A7Arn/;

/** The origin-verify secret's read and decrypt grants (exact in test/stacks/edge-distribution.test.ts). */
const isOriginVerify = (s: Statement) => /OriginVerify(Secret|Key)/.test(JSON.stringify(s.Resource));

const tableOf = (resource: unknown): string | undefined =>
  /Tables(Sessions|Inbox|Events|Approvals|Idempotency|Usage)/.exec(outputName(resource) ?? '')?.[1];

/** Table actions per role: table → sorted actions (index queries as `Sessions/index/active`). */
function tableGrants(name: FunctionName): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of statementsOf(json, name)) {
    const dynamo = actionsOf(s).filter((a) => a.startsWith('dynamodb:'));
    if (dynamo.length === 0) continue;
    // CDK merges statements that differ only in Resource (reads of two tables, once the writes have their own).
    for (const resource of [s.Resource as unknown].flat()) {
      const join = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
      const key = join ? `${tableOf(join[1][0])}${join[1][1]}` : tableOf(resource);
      out[key as string] = [...(out[key as string] ?? []), ...dynamo].sort();
    }
  }
  return out;
}

describe('routes and authorizer', () => {
  it('has exactly the API routes, each behind the JWT authorizer', () => {
    const [[httpApi]] = resourcesOfType(json, 'AWS::ApiGatewayV2::Api').filter(
      ([, r]) => r.Properties.ProtocolType === 'HTTP',
    );
    const routes = resourcesOfType(json, 'AWS::ApiGatewayV2::Route')
      .map(([, r]) => r.Properties)
      .filter((r) => r.ApiId.Ref === httpApi);
    expect(routes.map((r) => r.RouteKey).sort()).toEqual(
      [...Object.values(API_ROUTES), ...Object.values(CREDENTIAL_ROUTES)].sort(),
    );
    const [[authorizerId]] = resourcesOfType(json, 'AWS::ApiGatewayV2::Authorizer');
    for (const route of routes) {
      expect(route.AuthorizationType, route.RouteKey).toBe('JWT');
      expect(route.AuthorizerId, route.RouteKey).toEqual({ Ref: authorizerId });
    }
  });

  it('sends credential routes to the credential writer and the rest to the API function', () => {
    const integrationFunction = (integrationRef: { Ref: string }) =>
      json.Resources[integrationRef.Ref].Properties.IntegrationUri['Fn::GetAtt'][0];
    for (const [, route] of resourcesOfType(json, 'AWS::ApiGatewayV2::Route').filter(
      ([, r]) => !String(r.Properties.RouteKey).startsWith('$'),
    )) {
      const target = route.Properties.Target['Fn::Join'][1][1];
      const expected = Object.values(CREDENTIAL_ROUTES).includes(route.Properties.RouteKey) ? 'credentials' : 'api';
      expect(integrationFunction(target), route.Properties.RouteKey).toBe(functionOf(json, expected).id);
    }
  });

  it('verifies Cognito tokens: issuer of the pool, audience of the app client', () => {
    const [[poolId]] = resourcesOfType(json, 'AWS::Cognito::UserPool');
    const clientIds = resourcesOfType(json, 'AWS::Cognito::UserPoolClient').map(([id]) => id); // the CLI's, the console's
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Issuer: { 'Fn::Join': ['', ['https://cognito-idp.eu-west-1.amazonaws.com/', { Ref: poolId }]] },
        Audience: clientIds.map((id) => ({ Ref: id })),
      },
    });
  });

  it('logs access without headers or bodies, and throttles the stage', () => {
    const [[, stage]] = resourcesOfType(json, 'AWS::ApiGatewayV2::Stage');
    expect(stage.Properties.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    const format = JSON.parse(stage.Properties.AccessLogSettings.Format);
    expect(format.requestId).toBe('$context.requestId');
    expect(JSON.stringify(format)).not.toMatch(/header|body|authorization/i);
  });
});

describe('Cognito user pool', () => {
  const config = exampleConfig();

  it('is admin-created only, with required MFA, and holds no resource per user', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: Match.objectLike({ AllowAdminCreateUserOnly: true }),
      MfaConfiguration: 'ON',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      DeletionProtection: 'ACTIVE',
    });
    expect(resourcesOfType(json, 'AWS::Cognito::UserPoolUser')).toEqual([]);
  });

  it("syncs the roster into the pool with one custom resource: the pool id and a digest of the roster's identities", () => {
    const [[poolId]] = resourcesOfType(json, 'AWS::Cognito::UserPool');
    const sync = resourcesOfType(json, DIRECTORY_SYNC_TYPE);
    expect(sync).toHaveLength(1);
    expect(sync[0][1].Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': [functionOf(json, 'directory-sync').id, 'Arn'] },
      ServiceTimeout: '1200',
      UserPoolId: { Ref: poolId },
      RosterIdentities: rosterIdentityDigest(config),
    });
  });

  it('lets the sync function create, update, enable, disable and sign out users of this pool only: never delete, never touch passwords or MFA', () => {
    const [[poolId]] = resourcesOfType(json, 'AWS::Cognito::UserPool');
    const cognito = statementsOf(json, 'directory-sync').filter((s) =>
      actionsOf(s).some((a) => a.startsWith('cognito-idp:')),
    );
    expect(cognito).toEqual([
      {
        Effect: 'Allow',
        Action: [...DIRECTORY_SYNC_ACTIONS],
        Resource: { 'Fn::GetAtt': [poolId, 'Arn'] },
      },
    ]);
    const all = statementsOf(json, 'directory-sync').flatMap(actionsOf);
    for (const action of [
      'cognito-idp:AdminDeleteUser',
      'cognito-idp:AdminSetUserPassword',
      'cognito-idp:AdminSetUserMFAPreference',
      'cognito-idp:AdminResetUserPassword',
      'cognito-idp:*',
    ]) {
      expect(all, action).not.toContain(action);
    }
  });

  it('changes the digest when a user or an email changes, not when agents change', () => {
    const base = rosterIdentityDigest(config);
    const [first, ...rest] = config.users;
    expect(rosterIdentityDigest({ ...config, users: [...rest].reverse().concat(first) })).toBe(base);
    expect(rosterIdentityDigest({ ...config, users: [{ ...first, agents: first.agents.slice(1) }, ...rest] })).toBe(
      base,
    );
    expect(rosterIdentityDigest({ ...config, users: [{ ...first, email: 'new@acme.example' }, ...rest] })).not.toBe(
      base,
    );
    expect(rosterIdentityDigest({ ...config, users: rest })).not.toBe(base);
  });

  it('gives the app client no write access to attributes and no client secret', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      WriteAttributes: [],
      ExplicitAuthFlows: ['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      PreventUserExistenceErrors: 'ENABLED',
    });
  });

  it('the bundled roster directory maps Cognito usernames to the same users and their secret needs', () => {
    const directory = rosterDirectory(config);
    expect(directory.identity).toEqual({ kind: 'cognito' });
    const alice = directory.users.find((u) => u.id === 'alice')!;
    expect(alice.agents).toEqual([
      { id: 'finance', provider: 'openai', providerSecret: true, secretConnections: ['bank-feed'] },
      {
        id: 'sales',
        provider: 'anthropic',
        providerSecret: true,
        secretConnections: ['crm'],
        // Only agents with schedules carry them; only the scheduled-run function reads them.
        schedules: [
          {
            id: 'morning-brief',
            text: "Summarize yesterday's new leads in crm-notes.md",
            outbound: ['acme.my.salesforce.com'],
            maxRunMinutes: 20,
          },
        ],
      },
    ]);
    const bruno = directory.users.find((u) => u.id === 'bruno')!;
    expect(bruno.agents.find((a) => a.id === 'research')).toEqual({
      id: 'research',
      provider: 'bedrock',
      providerSecret: false,
      secretConnections: [],
    });
  });

  it("the bundled roster directory does not depend on roster order (the functions' code stays the same)", () => {
    const reversed = {
      ...config,
      users: [...config.users].reverse().map((user) => ({
        ...user,
        agents: [...user.agents]
          .reverse()
          .map((agent) => ({ ...agent, connections: [...agent.connections].reverse() })),
      })),
    };
    expect(JSON.stringify(rosterDirectory(reversed))).toBe(JSON.stringify(rosterDirectory(config)));
  });
});

describe('lifecycle rules', () => {
  it("routes the cluster's RUNNING/STOPPED task events of Cubicle tasks to the task-events function", () => {
    const [[, rule]] = resourcesOfType(json, 'AWS::Events::Rule').filter(([, r]) => r.Properties.EventPattern);
    const pattern = rule.Properties.EventPattern;
    expect(pattern.source).toEqual(['aws.ecs']);
    expect(pattern['detail-type']).toEqual(['ECS Task State Change']);
    expect(pattern.detail.lastStatus).toEqual(['RUNNING', 'STOPPED']);
    expect(pattern.detail.startedBy).toEqual([STARTED_BY]);
    expect(outputName(pattern.detail.clusterArn[0])).toMatch(CLUSTER_ARN_OUTPUT);
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [functionOf(json, 'task-events').id, 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 },
      }),
    ]);
  });

  it('ticks the reaper every minute without retries, inside its timeout', () => {
    const [[, rule]] = resourcesOfType(json, 'AWS::Events::Rule').filter(([, r]) => r.Properties.ScheduleExpression);
    expect(rule.Properties.ScheduleExpression).toBe('rate(1 minute)');
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [functionOf(json, 'reaper').id, 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 0 },
      }),
    ]);
    expect(functionOf(json, 'reaper').resource.Properties.Timeout).toBeLessThan(60);
  });
});

describe('functions', () => {
  it.each(FUNCTIONS)(
    "%s: arm64 Node.js 24, active tracing, own encrypted log group, in the control plane's subnets",
    (name) => {
      const props = functionOf(json, name).resource.Properties;
      expect(props.Runtime).toBe('nodejs24.x');
      expect(props.Architectures).toEqual(['arm64']);
      expect(props.TracingConfig).toEqual({ Mode: 'Active' });
      const logGroup = json.Resources[props.LoggingConfig.LogGroup.Ref];
      expect(logGroup.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LogsKey/), 'Arn'] });
      expect(logGroup.DeletionPolicy).toBe('Retain');
      const subnets = props.VpcConfig.SubnetIds.map((s: { Ref: string }) => json.Resources[s.Ref]);
      expect(subnets.map((s: { Type: string }) => s.Type)).toEqual(['AWS::EC2::Subnet', 'AWS::EC2::Subnet']);
      expect(props.VpcConfig.SecurityGroupIds).toEqual([
        { 'Fn::GetAtt': [expect.stringMatching(/^NetworkFunctions/), 'GroupId'] },
      ]);
    },
  );

  it('places the subnets in the last two /24 blocks of the VPC, routed through NAT, with a DynamoDB gateway endpoint', () => {
    const subnets = resourcesOfType(json, 'AWS::EC2::Subnet').map(([, s]) => s.Properties);
    expect(subnets.map((s) => s.CidrBlock)).toEqual(['10.0.254.0/24', '10.0.255.0/24']);
    expect(topBlocks('10.1.0.0/20', 2)).toEqual(['10.1.14.0/24', '10.1.15.0/24']);
    expect(() => topBlocks('10.0.0.0/24', 2)).toThrow(/literal \/22 or larger/);
    expect(subnets.every((s) => s.MapPublicIpOnLaunch === false)).toBe(true);
    const routes = resourcesOfType(json, 'AWS::EC2::Route').map(([, r]) => r.Properties);
    expect(routes.map((r) => r.DestinationCidrBlock)).toEqual(['0.0.0.0/0', '0.0.0.0/0']);
    expect(routes.every((r) => outputName(r.NatGatewayId)?.includes('NATGateway'))).toBe(true);
    const [[, endpoint]] = resourcesOfType(json, 'AWS::EC2::VPCEndpoint');
    expect(endpoint.Properties.VpcEndpointType).toBe('Gateway');
    expect(JSON.stringify(endpoint.Properties.ServiceName)).toContain('.dynamodb');
    expect(endpoint.Properties.RouteTableIds).toHaveLength(2);
  });

  it("the functions' security group has no ingress and only HTTPS egress", () => {
    const [[, group]] = resourcesOfType(json, 'AWS::EC2::SecurityGroup');
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
    expect(group.Properties.SecurityGroupEgress).toEqual([
      { CidrIp: '0.0.0.0/0', Description: expect.any(String), FromPort: 443, IpProtocol: 'tcp', ToPort: 443 },
    ]);
    // The one ingress rule this stack adds: HTTPS from the functions on the interface endpoints' group
    // (the example turns interfaceEndpoints on; the endpoints share one group).
    const ingress = resourcesOfType(json, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties);
    expect(ingress).toHaveLength(1);
    expect(outputName(ingress[0].GroupId)).toMatch(/InterfaceEndpoints/);
    for (const rule of ingress) {
      expect(rule).toMatchObject({
        FromPort: 443,
        ToPort: 443,
        IpProtocol: 'tcp',
        SourceSecurityGroupId: { 'Fn::GetAtt': [expect.stringMatching(/^NetworkFunctions/), 'GroupId'] },
      });
    }
  });

  it('every table variable comes with a grant on that table, and no grant without its variable', () => {
    for (const name of FUNCTIONS) {
      const vars = functionOf(json, name).resource.Properties.Environment.Variables as Record<string, unknown>;
      const tablesWithVar = Object.entries(TABLES)
        .filter(([, spec]) => spec.envVar in vars)
        .map(([, spec]) => spec.id)
        .sort();
      const tablesWithGrant = [
        ...new Set(Object.keys(tableGrants(name)).map((k) => k.replace(/\/index\/.*/, ''))),
      ].sort();
      expect(tablesWithGrant, name).toEqual(tablesWithVar);
      for (const [, spec] of Object.entries(TABLES)) {
        if (spec.envVar in vars)
          expect(tableOf(vars[spec.envVar])?.toLowerCase(), `${name} ${spec.envVar}`).toBe(spec.id.toLowerCase());
      }
    }
  });
});

describe('IAM, exactly', () => {
  it('lists table actions one by one per function, and no Scan anywhere', () => {
    expect(tableGrants('api')).toEqual({
      Sessions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
      Inbox: ['dynamodb:PutItem'],
      Events: ['dynamodb:PutItem', 'dynamodb:Query'],
      Approvals: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
      Idempotency: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      Usage: ['dynamodb:GetItem'],
    });
    expect(tableGrants('scheduled-run')).toEqual({
      Sessions: ['dynamodb:UpdateItem'],
      Inbox: ['dynamodb:PutItem'],
      Events: ['dynamodb:PutItem', 'dynamodb:Query'],
      Idempotency: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      Usage: ['dynamodb:GetItem'],
    });
    expect(tableGrants('task-events')).toEqual({
      Sessions: ['dynamodb:UpdateItem'],
      Events: ['dynamodb:PutItem', 'dynamodb:Query'],
    });
    expect(tableGrants('reaper')).toEqual({
      Sessions: ['dynamodb:UpdateItem'],
      'Sessions/index/active': ['dynamodb:Query'],
      Events: ['dynamodb:PutItem', 'dynamodb:Query'],
    });
    // Revocations go on the agents' chains.
    expect(tableGrants('credentials')).toEqual({ Events: ['dynamodb:PutItem', 'dynamodb:Query'] });
    const everyAction = FUNCTIONS.flatMap((n) => statementsOf(json, n).flatMap(actionsOf));
    expect(everyAction).not.toContain('dynamodb:Scan');
    expect(everyAction.filter((a) => a.includes('*'))).toEqual([]);
    expect(everyAction.filter((a) => /Delete(Item|Table)|BatchWrite/.test(a))).toEqual([]);
  });

  it("RunTask only by the launcher, only on this deployment's families, in the Cubicle cluster", () => {
    for (const name of ['api', 'task-events', 'reaper', 'credentials', 'scheduled-run'] as const) {
      expect(granting(statementsOf(json, name), 'ecs:RunTask'), name).toEqual([]);
      expect(granting(statementsOf(json, name), 'iam:PassRole'), name).toEqual([]);
    }
    for (const name of ['launcher'] as const) {
      const [run, ...more] = granting(statementsOf(json, name), 'ecs:RunTask');
      expect(more).toEqual([]);
      expect(actionsOf(run)).toEqual(['ecs:RunTask']);
      expect(run.Resource).toBe('arn:aws:ecs:eu-west-1:111111111111:task-definition/acme-*');
      expect(Object.keys(run.Condition!)).toEqual(['ArnEquals']);
      expect(outputName(run.Condition!.ArnEquals['ecs:cluster'])).toMatch(CLUSTER_ARN_OUTPUT);
    }
  });

  it('the API, task-events and reaper functions invoke the launcher, and no other function', () => {
    const launcherArn = { 'Fn::GetAtt': [functionOf(json, 'launcher').id, 'Arn'] };
    for (const name of ['api', 'task-events', 'reaper'] as const) {
      expect(granting(statementsOf(json, name), 'lambda:InvokeFunction'), name).toEqual([
        { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: launcherArn },
      ]);
      expect(functionOf(json, name).resource.Properties.Environment.Variables.CUBICLE_LAUNCHER_FUNCTION).toEqual({
        Ref: functionOf(json, 'launcher').id,
      });
    }
    for (const name of ['credentials', 'launcher'] as const)
      expect(granting(statementsOf(json, name), 'lambda:InvokeFunction'), name).toEqual([]);
    // Nothing but IAM principals invoke it: no API route, no URL, no resource policy.
    const permissions = resourcesOfType(json, 'AWS::Lambda::Permission').filter(([, p]) =>
      JSON.stringify(p.Properties.FunctionName).includes(functionOf(json, 'launcher').id),
    );
    expect(permissions).toEqual([]);
    expect(resourcesOfType(json, 'AWS::Lambda::Url')).toEqual([]);
    // Only the launcher knows the tasks' network.
    for (const name of ['api', 'task-events', 'reaper'] as const) {
      expect(Object.keys(functionOf(json, name).resource.Properties.Environment.Variables), name).not.toContain(
        'CUBICLE_SUBNET_IDS',
      );
    }
    expect(Object.keys(functionOf(json, 'launcher').resource.Properties.Environment.Variables).sort()).toEqual([
      'CUBICLE_CHAIN_KEY_ARN',
      'CUBICLE_CLUSTER_ARN',
      'CUBICLE_DEPLOYMENT',
      'CUBICLE_EVENTS_TABLE',
      'CUBICLE_SECURITY_GROUP_IDS',
      'CUBICLE_SESSIONS_TABLE',
      'CUBICLE_SUBNET_IDS',
      'POWERTOOLS_LOG_LEVEL',
      'POWERTOOLS_SERVICE_NAME',
    ]);
  });

  it("PassRole only on the fleet's agent-role path and the execution role, only to ECS tasks", () => {
    for (const name of ['launcher'] as const) {
      const [pass, ...more] = granting(statementsOf(json, name), 'iam:PassRole');
      expect(more).toEqual([]);
      expect(pass.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
      const [path, executionRole] = pass.Resource as [string, unknown];
      expect(path).toBe('arn:aws:iam::111111111111:role/cubicle/acme/agents/*');
      expect(outputName(executionRole)).toMatch(/TaskExecutionRole.*Arn/);
    }
  });

  it('StopTask, DescribeTasks and ListTasks only with the cluster condition; tagging only on RunTask', () => {
    const conditioned = (s: Statement) => outputName(s.Condition?.ArnEquals?.['ecs:cluster']) ?? '';
    for (const name of ['api', 'task-events', 'reaper', 'launcher'] as const) {
      const [stop] = granting(statementsOf(json, name), 'ecs:StopTask');
      expect(conditioned(stop)).toMatch(CLUSTER_ARN_OUTPUT);
    }
    const [tag] = granting(statementsOf(json, 'launcher'), 'ecs:TagResource');
    expect(tag.Condition).toEqual({ StringEquals: { 'ecs:CreateAction': 'RunTask' } });
    for (const name of ['api', 'task-events', 'reaper'] as const)
      expect(granting(statementsOf(json, name), 'ecs:TagResource'), name).toEqual([]);
    for (const action of ['ecs:DescribeTasks', 'ecs:ListTasks']) {
      const [statement] = granting(statementsOf(json, 'reaper'), action);
      expect(conditioned(statement), action).toMatch(CLUSTER_ARN_OUTPUT);
      expect(granting(statementsOf(json, 'api'), action), action).toEqual([]);
    }
  });

  it("the credential writer has the fleet's role name and may only PutSecretValue under this deployment's prefix", () => {
    const role = json.Resources[roleIdOf(json, 'credentials')];
    expect(role.Properties.RoleName).toBe('acme-credential-writer');
    expect(role.Properties.Path).toBeUndefined();
    const secrets = statementsOf(json, 'credentials').filter(
      (s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')) && !isOriginVerify(s),
    );
    expect(secrets).toEqual([
      {
        Effect: 'Allow',
        Action: 'secretsmanager:PutSecretValue',
        Resource: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:cubicle/acme/*',
      },
    ]);
    // (The tables' key through DynamoDB is checked with the other functions' below.)
    const keys = statementsOf(json, 'credentials').filter(
      (s) =>
        actionsOf(s).some((a) => a.startsWith('kms:')) &&
        !isOriginVerify(s) &&
        !JSON.stringify(s.Condition).includes('dynamodb.'),
    );
    expect(keys).toEqual([
      {
        Effect: 'Allow',
        Action: ['kms:Encrypt', 'kms:GenerateDataKey'],
        Resource: 'arn:aws:kms:eu-west-1:111111111111:key/*',
        Condition: {
          StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' },
          ArnLike: {
            'kms:EncryptionContext:SecretARN': 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:cubicle/acme/*',
          },
          'ForAnyValue:StringLike': { 'kms:ResourceAliases': 'alias/cubicle/acme/*' },
        },
      },
    ]);
    expect(
      statementsOf(json, 'credentials')
        .filter((s) => !isOriginVerify(s) && !JSON.stringify(s.Condition ?? {}).includes('dynamodb.'))
        .flatMap(actionsOf)
        .filter((a) => /^(ecs|iam):/.test(a) || a === 'kms:Decrypt'),
    ).toEqual([]);
  });

  it('no other function touches Secrets Manager (but the origin-verify secret); table keys are usable only through DynamoDB', () => {
    for (const name of ['api', 'task-events', 'reaper', 'launcher'] as const) {
      const statements = statementsOf(json, name).filter((s) => !isOriginVerify(s));
      expect(statements.flatMap(actionsOf).filter((a) => a.startsWith('secretsmanager:'))).toEqual([]);
      // The API's record-sealing statements are checked on their own (user keys, below).
      const kms = statements.filter(
        (s) =>
          actionsOf(s).some((a) => a.startsWith('kms:')) &&
          !JSON.stringify(s.Condition ?? {}).includes('kms:ResourceAliases'),
      );
      expect(kms).toHaveLength(1);
      expect(actionsOf(kms[0]).sort()).toEqual([
        'kms:Decrypt',
        'kms:DescribeKey',
        'kms:Encrypt',
        'kms:GenerateDataKey',
      ]);
      expect(kms[0].Condition).toEqual({ StringEquals: { 'kms:ViaService': 'dynamodb.eu-west-1.amazonaws.com' } });
    }
  });

  it('"*" resources hold only X-Ray, Lambda\'s network-interface actions and the cluster-conditioned ListTasks', () => {
    for (const name of FUNCTIONS) {
      const wildcard = statementsOf(json, name).filter((s) => s.Resource === '*');
      const actions = wildcard.flatMap(actionsOf).sort();
      const allowed = [
        'ec2:AssignPrivateIpAddresses',
        'ec2:CreateNetworkInterface',
        'ec2:DeleteNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:UnassignPrivateIpAddresses',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
        'ecs:ListTasks',
      ];
      expect(
        actions.filter((a) => !allowed.includes(a)),
        name,
      ).toEqual([]);
      if (name !== 'reaper') expect(actions, name).not.toContain('ecs:ListTasks');
    }
  });

  it("API Gateway may invoke the API and relay functions only from this account's APIs", () => {
    const permissions = resourcesOfType(json, 'AWS::Lambda::Permission')
      .map(([, p]) => p.Properties)
      .filter((p) => p.Principal === 'apigateway.amazonaws.com');
    // One per HTTP route (the API's and the credential writer's PUT and DELETE routes), and 3 routes of each relay API.
    expect(permissions).toHaveLength(Object.keys(API_ROUTES).length + Object.keys(CREDENTIAL_ROUTES).length + 6);
    for (const p of permissions) {
      expect(p.SourceAccount).toBe('111111111111');
      expect(p.SourceArn['Fn::Join'][1][0]).toBe('arn:aws:execute-api:eu-west-1:111111111111:');
    }
  });
});
