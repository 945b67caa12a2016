import { copyFileSync } from 'node:fs';
import * as path from 'node:path';
import { AssetHashType, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ROSTER_FILE_NAME } from '../../runtime/shared/function-contract';
import { EncryptedLogGroup } from './encrypted-log-group';
import { bundleFunction, HANDLER_FILE } from './function-bundle';
import { functionSourceHash } from './function-source-hash';
import { bundledLocally } from './source-hash';

export const REPO_ROOT = path.join(__dirname, '..', '..');
export const CONTROL_PLANE_HANDLERS = path.join(REPO_ROOT, 'runtime', 'control-plane', 'handlers');
export const RELAY_HANDLERS = path.join(REPO_ROOT, 'runtime', 'relay', 'handlers');

/** The relay's functions (runtime/relay/handlers/<name>.ts) by handler name. */
const RELAY_ENTRIES = { 'relay-device': 'device', 'relay-runtime': 'runtime', 'relay-fanout': 'fanout' } as const;

/** Every function's handler: runtime/control-plane/handlers/<name>.ts, then the relay's (RELAY_ENTRIES). */
export const FUNCTION_HANDLERS = [
  'api',
  'credentials',
  'task-events',
  'reaper',
  'directory-sync',
  'launcher',
  'audit-archive',
  'scheduled-run',
  'notifier',
  ...(Object.keys(RELAY_ENTRIES) as (keyof typeof RELAY_ENTRIES)[]),
] as const;
export type FunctionHandler = (typeof FUNCTION_HANDLERS)[number];

/** Source file of a function's handler. */
export function handlerEntry(handler: FunctionHandler): string {
  return handler in RELAY_ENTRIES
    ? path.join(RELAY_HANDLERS, `${RELAY_ENTRIES[handler as keyof typeof RELAY_ENTRIES]}.ts`)
    : path.join(CONTROL_PLANE_HANDLERS, `${handler}.ts`);
}

export const FUNCTION_RUNTIME = lambda.Runtime.NODEJS_24_X;

export interface CubicleFunctionProps {
  /** Handler file under runtime/control-plane/handlers (or a relay handler, runtime/relay/handlers). */
  readonly handler: FunctionHandler;
  readonly description: string;
  readonly vpc: ec2.IVpc;
  /** The control plane's private subnets (lib/constructs/control-plane-network.ts). */
  readonly subnets: readonly ec2.ISubnet[];
  /** Security group of the control-plane functions (HTTPS egress only). */
  readonly securityGroup: ec2.ISecurityGroup;
  readonly logRetentionDays: number;
  /** Key of the function's log group (a key whose policy admits CloudWatch Logs). */
  readonly logKey: kms.IKey;
  /** Roster directory file copied next to the bundle as roster.json (the API functions need it). */
  readonly rosterFile?: string;
  /** @default 30 seconds */
  readonly timeout?: Duration;
  /**
   * Physical role name. Only for a role another stack names by ARN (the credential writer);
   * @default a generated name
   */
  readonly roleName?: string;
  /**
   * Physical function name. Only for a function something outside this stack names (the pipeline's
   * invoke role may call exactly one function, by name); @default a generated name
   */
  readonly functionName?: string;
}

/**
 * A control-plane Lambda function as they all must be: Node.js bundled locally by esbuild, arm64,
 * active tracing, in the VPC's private subnets behind an HTTPS-only security group (Control Tower
 * CT.LAMBDA.PR.3), an explicit encrypted log group with the configured retention, and its own role that
 * starts with nothing but logs, tracing and its network interfaces. Every further permission comes from
 * a bind* helper below, which sets the environment variable and the grant together.
 */
export class CubicleFunction extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  private tableKeyBound = false;

  constructor(scope: Construct, id: string, props: CubicleFunctionProps) {
    super(scope, id);
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      roleName: props.roleName,
      description: `Cubicle control plane: ${props.description}`,
    });
    const logs = new EncryptedLogGroup(this, 'Logs', {
      retentionDays: props.logRetentionDays,
      purpose: `${props.handler} function logs`,
      encryptionKey: props.logKey,
    });
    logs.logGroup.grantWrite(this.role);
    // What AWSLambdaVPCAccessExecutionRole grants, inline: Lambda manages the function's network
    // interfaces with its execution role; these EC2 actions do not support resource-level scoping
    // for Describe, and Lambda picks the interface ids.
    // https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );

    const entry = handlerEntry(props.handler);
    const rosterFile = props.rosterFile;
    this.function = new lambda.Function(this, 'Function', {
      code: lambda.Code.fromAsset(REPO_ROOT, {
        // Hashed by what goes into the bundle (function-source-hash.ts), not by the repository, which is not the
        // asset: CDK then bundles only when cdk.out does not hold this hash's bundle yet.
        assetHashType: AssetHashType.CUSTOM,
        assetHash: functionSourceHash(REPO_ROOT, entry, rosterFile),
        bundling: bundledLocally(['bundle', path.relative(REPO_ROOT, entry)], (outputDir) => {
          bundleFunction(entry, outputDir, { absWorkingDir: REPO_ROOT });
          if (rosterFile) copyFileSync(rosterFile, path.join(outputDir, ROSTER_FILE_NAME));
        }),
      }),
      handler: `${path.basename(HANDLER_FILE, '.mjs')}.handler`,
      functionName: props.functionName,
      description: `Cubicle control plane: ${props.description}`,
      runtime: FUNCTION_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: lambda.Tracing.ACTIVE,
      role: this.role,
      logGroup: logs.logGroup,
      vpc: props.vpc,
      vpcSubnets: { subnets: [...props.subnets] },
      securityGroups: [props.securityGroup],
      environment: {
        POWERTOOLS_SERVICE_NAME: `cubicle-${props.handler}`,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
    });

    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only actions without resource-level permissions use "*": X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) and the EC2 network-interface actions Lambda performs with the execution role in a VPC (the AWSLambdaVPCAccessExecutionRole set).',
    });
    Validations.of(this.function).acknowledge({
      id: 'NIST.800.53.R5-LambdaConcurrency',
      reason:
        "Reserved concurrency would be taken from the account's unreserved pool (10 in new accounts, which cannot reserve at all) and could throttle employees; the API stage is throttled (rate and burst), EventBridge bounds the task events, and the reaper runs once a minute.",
    });
    Validations.of(this.role).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason:
        "The policy is this function's own least-privilege grant set, built next to the environment variables it pairs with; it lives and dies with the role.",
    });
  }

  /** Adds a statement to the function's role. */
  allow(statement: iam.PolicyStatement): void {
    this.role.addToPolicy(statement);
  }

  setEnv(name: string, value: string): void {
    this.function.addEnvironment(name, value);
  }

  /** The tables' key, usable only through DynamoDB (once per function). */
  bindTableKey(key: kms.IKey): void {
    if (this.tableKeyBound) return;
    this.tableKeyBound = true;
    this.allow(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }
}
