/**
 * Local mode is built from the same definitions as the stacks; these tests hold it to the synthesized
 * example, so a change on either side that the other does not follow fails here: the tables, each
 * function's variables and timeout, what each function's role may do on ECS and Secrets Manager, the
 * task state event rule, the reaper's schedule, each pair's task definition (family, container name,
 * environment).
 */
import { describe, expect, it } from 'vitest';
import { AGENT_CONTAINER_NAME } from '../../lib/constructs/agent-cell';
import { vaultSecrets } from '../../lib/fleet/vault-secrets';
import { REAPER_TIMEOUT } from '../../lib/constructs/lifecycle-functions';
import { TABLES, type TableName } from '../../runtime/shared/tables';
import {
  CHAIN_APPENDERS,
  FUNCTION_GRANTS,
  FUNCTION_INVOKE_GRANTS,
  FUNCTION_KMS_GRANTS,
  RELAY_KMS_GRANTS,
} from '../../local/aws/policy';
import { FUNCTION_NAMES, RELAY_FUNCTION_NAMES, type FunctionName } from '../../local/aws/principals';
import { createTableInput, localTableNames } from '../../local/dynamo/tables';
import { taskEventPattern } from '../../local/ecs/events';
import { CONTAINER_NAME } from '../../local/ecs/server';
import { localBedrockInvokerArn, taskDefinitions } from '../../local/ecs/task-definitions';
import { localFunctionEnvironment } from '../../local/functions/environment';
import { LOCAL_FUNCTIONS, REAPER_INTERVAL_MS } from '../../local/functions/registry';
import { exampleTemplates, resourcesOfType, type TemplateJson } from '../support/assembly';
import { CfnResolver } from '../support/cfn-intrinsics';
import { exampleConfig } from '../support/example-config';

const config = exampleConfig();
const templates = exampleTemplates();
const controlPlane = templates.get('acme-ControlPlane')!;
const resolver = new CfnResolver(templates, {
  account: config.account,
  regionOf: (s) => (s.endsWith('-Edge') || s.endsWith('-EdgeLogs') ? 'us-east-1' : config.region),
});

/** The example's control-plane functions by handler name (POWERTOOLS_SERVICE_NAME is `cubicle-<handler>`). */
/**
 * Deployed functions local mode does not host in processes of their own: the relay's three run in local
 * mode's own process (local/relay/, the same handler code), the directory sync keeps a Cognito pool
 * in step with the roster, which local mode's own issuer reads directly, the audit archive copies the
 * Events stream to S3 Object Lock, which local mode has no stand-in for (its chain is keyed all the same),
 * and scheduled runs need EventBridge Scheduler, which local mode does not stand in for either (the
 * function's logic is tested against dynalite).
 */
const NOT_HOSTED = [
  'audit-archive',
  'directory-sync',
  'relay-device',
  'relay-fanout',
  'relay-runtime',
  'scheduled-run',
];

function deployedFunctions(): Map<FunctionName, TemplateJson['Resources'][string]> {
  const out = new Map<FunctionName, TemplateJson['Resources'][string]>();
  const other: string[] = [];
  for (const [, fn] of resourcesOfType(controlPlane, 'AWS::Lambda::Function')) {
    const service = fn.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME as string | undefined;
    if (!service?.startsWith('cubicle-')) continue;
    const name = service.slice('cubicle-'.length);
    if ((FUNCTION_NAMES as readonly string[]).includes(name)) out.set(name as FunctionName, fn);
    else other.push(name);
  }
  expect(other.sort()).toEqual(NOT_HOSTED);
  return out;
}

function roleActions(fn: TemplateJson['Resources'][string]): { actions: Set<string>; kmsStatements: any[] } {
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  const actions = new Set<string>();
  const kmsStatements: any[] = [];
  for (const [, policy] of resourcesOfType(controlPlane, 'AWS::IAM::Policy')) {
    if (!policy.Properties.Roles.some((r: { Ref?: string }) => r.Ref === roleId)) continue;
    for (const statement of policy.Properties.PolicyDocument.Statement) {
      const list: string[] = [].concat(statement.Action);
      for (const action of list) actions.add(action);
      if (list.some((a) => a.startsWith('kms:'))) kmsStatements.push(statement);
    }
  }
  return { actions, kmsStatements };
}

describe('local mode matches the synthesized stacks', () => {
  it("creates the Platform stack's tables: keys, attributes and the active index", () => {
    const platform = templates.get('acme-Platform')!;
    const tables = resourcesOfType(platform, 'AWS::DynamoDB::Table');
    expect(tables).toHaveLength(Object.keys(TABLES).length);
    for (const name of Object.keys(TABLES) as TableName[]) {
      const [, deployed] = tables.find(([id]) => id.startsWith(`Tables${TABLES[name].id}`))!;
      const local = createTableInput(name, localTableNames('acme')[name]);
      expect(local.KeySchema).toEqual(deployed.Properties.KeySchema);
      expect(local.AttributeDefinitions).toEqual(deployed.Properties.AttributeDefinitions);
      expect(local.GlobalSecondaryIndexes).toEqual(deployed.Properties.GlobalSecondaryIndexes);
    }
  });

  it('gives each function the variables and the timeout its Lambda function has', () => {
    const deployed = deployedFunctions();
    expect([...deployed.keys()].sort()).toEqual([...FUNCTION_NAMES].sort());
    for (const name of FUNCTION_NAMES) {
      const fn = deployed.get(name)!;
      const local = localFunctionEnvironment(name, {
        config,
        tableNames: localTableNames('acme'),
        clusterArn: 'arn:aws:ecs:eu-west-1:111111111111:cluster/acme-local',
        originSecretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:acme-origin-verify-AbCdEf',
        chainKeyArn: 'arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-4000-8000-000000000000',
        endpoints: {
          dynamodb: 'http://127.0.0.1:1',
          ecs: 'http://127.0.0.1:2',
          vault: 'http://127.0.0.1:3',
          lambda: 'http://127.0.0.1:5',
        },
        verifier: {
          issuer: 'http://127.0.0.1:4/local',
          audience: 'cubicle-local',
          jwksUri: 'http://127.0.0.1:4/local/jwks.json',
          jwks: { keys: [] },
        },
        home: '/tmp/home',
        keys: { accessKeyId: 'ASIA0000000000000000', secretAccessKey: 'x' },
        verbose: false,
      });
      for (const variable of Object.keys(fn.Properties.Environment.Variables))
        expect(local, `${name}: ${variable}`).toHaveProperty(variable);
      // CUBICLE_TOKEN_JWKS_URI: the local issuer is an OIDC issuer on loopback; the example deploys Cognito, whose
      // JWKS location the verifier derives from the pool.
      const localOwn = Object.keys(local).filter(
        (k) => !/^(PATH|HOME|LANG|AWS_.*|POWERTOOLS_TRACE_ENABLED|CUBICLE_TOKEN_JWKS_URI)$/.test(k),
      );
      expect(localOwn.sort(), name).toEqual(Object.keys(fn.Properties.Environment.Variables).sort());
      expect(LOCAL_FUNCTIONS[name].timeoutMs, name).toBe(fn.Properties.Timeout * 1000);
    }
    expect(LOCAL_FUNCTIONS.reaper.timeoutMs).toBe(REAPER_TIMEOUT.toMilliseconds());
  });

  it('lets each function do on ECS, Secrets Manager, KMS and Lambda what its role allows', () => {
    const functions = deployedFunctions();
    const arnOf = new Map([...functions].map(([name, fn]) => [name, fn]));
    for (const [name, fn] of functions) {
      const { actions, kmsStatements } = roleActions(fn);
      // ecs:TagResource is allowed only with ecs:CreateAction = RunTask: tagging is part of RunTask here.
      const deployed = [...actions].filter((a) => /^(ecs|secretsmanager):/.test(a) && a !== 'ecs:TagResource').sort();
      expect([...FUNCTION_GRANTS[name]].sort(), name).toEqual(deployed);
      // KMS: through a service (DynamoDB, Secrets Manager), or directly on sealed records (the record sealers).
      const direct = kmsStatements.filter((s) => s.Condition?.StringEquals?.['kms:ViaService'] === undefined);
      for (const statement of direct) {
        const recordsOnly =
          statement.Condition?.['ForAllValues:StringEquals']?.['kms:EncryptionContextKeys'] !== undefined;
        if (!recordsOnly)
          expect([].concat(statement.Action), `${name}: ${JSON.stringify(statement)}`).toEqual(['kms:DescribeKey']);
      }
      expect([...FUNCTION_KMS_GRANTS[name]].sort(), name).toEqual(
        [...new Set(direct.flatMap((s) => [].concat(s.Action)))].sort(),
      );
      // Which functions each may invoke (the launcher's callers).
      const invokes = [...actions].includes('lambda:InvokeFunction') ? ['launcher'] : [];
      expect([...FUNCTION_INVOKE_GRANTS[name]], name).toEqual(invokes);
    }
    expect(arnOf.get('launcher')).toBeDefined();
  });

  it("lets each relay function (run in local mode's own process) use the user keys directly as its role allows, and nothing else", () => {
    for (const name of RELAY_FUNCTION_NAMES) {
      const [, fn] = resourcesOfType(controlPlane, 'AWS::Lambda::Function').find(
        ([, f]) => f.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === `cubicle-${name}`,
      )!;
      const { actions, kmsStatements } = roleActions(fn);
      // (The device function also reads the origin-verify secret, which local mode's front port stands in for.)
      expect(
        [...actions].filter((a) => /^(ecs|lambda):/.test(a) || a === 'secretsmanager:PutSecretValue'),
        name,
      ).toEqual([]);
      const direct = kmsStatements.filter((s) => s.Condition?.StringEquals?.['kms:ViaService'] === undefined);
      expect([...RELAY_KMS_GRANTS[name]].sort(), name).toEqual(
        [...new Set(direct.flatMap((s) => [].concat(s.Action)))].sort(),
      );
    }
  });

  it("lets exactly the functions the chain key's policy names MAC events (GenerateMac)", () => {
    const [, key] = resourcesOfType(controlPlane, 'AWS::KMS::Key').find(
      ([, k]) => k.Properties.KeySpec === 'HMAC_256',
    )!;
    const statement = key.Properties.KeyPolicy.Statement.find(
      (s: { Sid?: string }) => s.Sid === 'ControlPlaneAppendsEvents',
    );
    const roleIds = new Set(
      [].concat(statement.Principal.AWS).map((p: { 'Fn::GetAtt': [string] }) => p['Fn::GetAtt'][0]),
    );
    const named = resourcesOfType(controlPlane, 'AWS::Lambda::Function')
      .filter(([, fn]) => roleIds.has(fn.Properties.Role['Fn::GetAtt'][0]))
      .map(([, fn]) => String(fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME).slice('cubicle-'.length));
    // The scheduled-run function needs EventBridge Scheduler, which local mode does not stand in for.
    expect([...CHAIN_APPENDERS].sort()).toEqual(named.filter((name) => name !== 'scheduled-run').sort());
    expect(named).toContain('scheduled-run');
  });

  it("delivers task state changes under the rule's pattern, and runs the reaper on its schedule", () => {
    const rules = resourcesOfType(controlPlane, 'AWS::Events::Rule');
    const taskRule = rules.find(([, r]) => r.Properties.EventPattern)![1];
    const cluster = 'arn:aws:ecs:eu-west-1:111111111111:cluster/acme-local';
    const deployed = JSON.parse(
      JSON.stringify(taskRule.Properties.EventPattern).replace(
        /\{"Fn::GetStackOutput":[^}]*\}\}/,
        JSON.stringify(cluster),
      ),
    );
    expect(taskEventPattern(cluster)).toEqual(deployed);
    const schedule = rules.find(([, r]) => r.Properties.ScheduleExpression)![1];
    expect(schedule.Properties.ScheduleExpression).toBe(`rate(${REAPER_INTERVAL_MS / 60_000} minute)`);
  });

  it('runs each pair with the family, container name and environment of its task definition', () => {
    const deployed = new Map<string, Record<string, string>>();
    for (const [stackName, template] of templates) {
      if (!stackName.includes('-Fleet-')) continue;
      for (const [, def] of resourcesOfType(template, 'AWS::ECS::TaskDefinition')) {
        const [container] = def.Properties.ContainerDefinitions;
        expect(container.Name).toBe(CONTAINER_NAME);
        const env = Object.fromEntries(
          container.Environment.map((e: { Name: string; Value: unknown }) => [
            e.Name,
            String(resolver.resolve(stackName, e.Value)),
          ]),
        );
        deployed.set(def.Properties.Family, env);
      }
    }
    expect(CONTAINER_NAME).toBe(AGENT_CONTAINER_NAME);
    // The user's vault secrets with the ARNs CloudFormation gives them (their random suffix aside).
    const refs = (userId: string) =>
      vaultSecrets(
        config,
        config.users.find((u) => u.id === userId)!,
      ).map((spec) => ({ spec, arn: `arn:aws:secretsmanager:eu-west-1:111111111111:secret:${spec.name}-XXXXXX` }));
    const normalize = (env: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(env)
          // Where the relay and the user's key are differs by construction (a stage URL, a key ARN).
          .filter(([k]) => k !== 'CUBICLE_RELAY_URL' && k !== 'CUBICLE_USER_KEY_ARN')
          .map(([k, v]) => [k, v.replace(/(:secret:[^"]+?)-[A-Za-z0-9]{6}(?=$|")/g, '$1-XXXXXX')]),
      );
    const rebuilt = taskDefinitions(config, refs, {
      relayUrl: 'ws://127.0.0.1:1/runtime',
      userKeyArn: (u) => `arn:aws:kms:eu-west-1:111111111111:key/key-of-${u}`,
      bedrockRoleArn: localBedrockInvokerArn(config),
    });
    expect([...rebuilt.keys()].sort()).toEqual([...deployed.keys()].sort());
    for (const [family, definition] of rebuilt) {
      expect(Object.keys(definition.environment).sort(), family).toEqual(Object.keys(deployed.get(family)!).sort());
      expect(normalize(definition.environment), family).toEqual(normalize(deployed.get(family)!));
    }
  });
});
