import { CfnOutput, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ControlPlaneNetwork } from '../constructs/control-plane-network';
import { rosterDirectory, writeRosterFile } from '../constructs/control-plane-roster';
import { ConsoleSite } from '../constructs/console-site';
import { allowLogsService } from '../constructs/encrypted-log-group';
import { createRetainedKey } from '../constructs/retained-key';
import { LauncherOptions } from '../constructs/control-plane-grants';
import { EdgeDistribution } from '../constructs/edge-distribution';
import { OriginVerifySecret } from '../constructs/edge-origin-secret';
import { EmployeeApi, FunctionBase, tokenIssuer } from '../constructs/employee-api';
import { DirectorySync } from '../constructs/directory-sync';
import { EmployeeIdentity } from '../constructs/identity';
import { LauncherFunction } from '../constructs/launcher-function';
import { LifecycleFunctions } from '../constructs/lifecycle-functions';
import { Relay } from '../constructs/relay';
import { ScheduledRuns } from '../constructs/scheduled-runs';
import { SecurityEvents } from '../constructs/security-events';
import { AuditArchive } from '../constructs/audit-archive';
import { EmailNotifications } from '../constructs/email-notifications';
import { executeApiHost, s3BucketHost } from '../constructs/aws-hosts';
import { ControlPlaneEgress } from '../constructs/control-plane-egress';
import { CubicleStack, CubicleStackProps } from './cubicle-stack';
import { NetworkStack } from './network-stack';
import { PlatformStack } from './platform-stack';

export interface ControlPlaneStackProps extends CubicleStackProps {
  readonly network: NetworkStack;
  readonly platform: PlatformStack;
  /** ARN of the Edge stack's web ACL (us-east-1), referenced across regions by the distribution. */
  readonly webAclArn: string;
}

/**
 * The control plane: the employee HTTP API (JWT authorizer, Cognito or an external OIDC issuer), the
 * credential writer, and the lifecycle functions (task state events, reaper) over the Platform stack's
 * tables and cluster, and the CloudFront distribution in front of the API (README "Edge"): the web ACL comes
 * from the us-east-1 Edge stack by a cross-region reference.
 */
export class ControlPlaneStack extends CubicleStack {
  readonly identity: EmployeeIdentity;
  /** The default identity's user sync (absent with an external OIDC issuer). */
  readonly directorySync?: DirectorySync;
  readonly api: EmployeeApi;
  readonly lifecycle: LifecycleFunctions;
  /** The only function that starts agent tasks. */
  readonly launcher: LauncherFunction;
  readonly securityEvents: SecurityEvents;
  /** The functions' own subnets and security group in the Network stack's VPC (not that stack itself: `props.network`). */
  readonly functionNetwork: ControlPlaneNetwork;
  readonly functionSecurityGroup: ec2.SecurityGroup;
  readonly logsKey: kms.Key;
  readonly originSecret: OriginVerifySecret;
  readonly edge: EdgeDistribution;
  readonly console: ConsoleSite;
  readonly relay: Relay;
  readonly audit: AuditArchive;
  /** With `notifications.email`: the notifier and its SES identity. */
  readonly notifications?: EmailNotifications;
  /** The scheduled-run function (the pipeline invoke role's one target) and the config's schedules. */
  readonly scheduledRuns: ScheduledRuns;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id, { ...props, crossRegionReferences: true });
    const { config, network, platform } = props;

    this.functionNetwork = new ControlPlaneNetwork(this, 'Network', { vpc: network.vpc });
    this.functionSecurityGroup = this.functionNetwork.securityGroup;
    this.admitToInterfaceEndpoints(network);

    // Log groups are encrypted with a key of this stack: Control Tower CT.CLOUDWATCH.PR.3 accepts only a
    // literal key ARN or a reference to a key in the same template.
    this.logsKey = createRetainedKey(this, 'LogsKey', {
      description: 'Cubicle: encrypts control-plane function and API access logs',
    });
    allowLogsService(this.logsKey);

    const base: FunctionBase = {
      vpc: network.vpc,
      subnets: this.functionNetwork.subnets,
      securityGroup: this.functionSecurityGroup,
      logRetentionDays: config.logs.retentionDays,
      logKey: this.logsKey,
    };
    const launcher: LauncherOptions = {
      deployment: config.name,
      cluster: platform.cluster,
      subnets: network.vpc.privateSubnets,
      agentSecurityGroup: network.agentSecurityGroup,
      executionRole: platform.executionRole,
      maxTaskDurationSeconds: config.runtime.maxTaskDuration,
      idleTimeoutSeconds: config.runtime.idleTimeout,
    };

    const rosterFile = writeRosterFile(rosterDirectory(config));
    this.launcher = new LauncherFunction(this, 'Launcher', {
      base,
      tables: platform.tables,
      tableKey: platform.key,
      launcher,
    });
    this.identity = new EmployeeIdentity(this, 'Identity', { config });
    if (this.identity.userPool) {
      this.directorySync = new DirectorySync(this, 'DirectorySync', {
        base,
        config,
        userPool: this.identity.userPool,
        rosterFile,
      });
    }
    this.originSecret = new OriginVerifySecret(this, 'OriginVerify');
    this.api = new EmployeeApi(this, 'EmployeeApi', {
      base,
      identity: this.identity,
      rosterFile,
      tables: platform.tables,
      tableKey: platform.key,
      launcher,
      launcherFunction: this.launcher,
      originSecret: this.originSecret,
    });
    this.lifecycle = new LifecycleFunctions(this, 'Lifecycle', {
      base,
      cluster: platform.cluster,
      tables: platform.tables,
      tableKey: platform.key,
      launcher,
      launcherFunction: this.launcher,
    });
    this.scheduledRuns = new ScheduledRuns(this, 'ScheduledRuns', {
      base,
      config,
      rosterFile,
      tables: platform.tables,
      tableKey: platform.key,
      launcher,
      launcherFunction: this.launcher,
    });

    this.console = new ConsoleSite(this, 'Console', {
      auth: this.identity.auth,
      connectOrigins: this.identity.connectOrigins,
      logRetentionDays: config.logs.retentionDays,
      vpc: network.vpc,
      subnets: this.functionNetwork.subnets,
      securityGroup: this.functionSecurityGroup,
      logKey: this.logsKey,
    });
    this.relay = new Relay(this, 'Relay', {
      base,
      deployment: config.name,
      rosterFile,
      issuer: tokenIssuer(this.identity),
      tables: platform.tables,
      tableKey: platform.key,
      originSecret: this.originSecret,
    });

    this.edge = new EdgeDistribution(this, 'Edge', {
      api: this.api.api,
      relayApi: this.relay.deviceApi,
      webAclArn: props.webAclArn,
      edge: config.edge,
      originSecret: this.originSecret,
      console: this.console,
    });
    this.identity.useConsoleAt(this.edge.url);
    this.securityEvents = new SecurityEvents(this, 'SecurityEvents', {
      deployment: config.name,
      launcherRole: this.launcher.fn.role,
      credentialWriterRole: this.api.credentialsFunction.role,
      functionStackName: this.stackName,
    });
    this.audit = new AuditArchive(this, 'Audit', {
      base,
      events: platform.tables.events,
      tableKey: platform.key,
      retentionDays: config.audit.archiveRetentionDays,
      securityTopic: this.securityEvents.topic,
      securityTopicKey: this.securityEvents.key,
    });
    if (config.notifications.email) {
      this.notifications = new EmailNotifications(this, 'Notifications', {
        base,
        config,
        email: config.notifications.email,
        rosterFile,
        idempotencyTable: platform.tables.idempotency,
        tableKey: platform.key,
        archiver: this.audit.archiver,
        consoleUrl: `${this.edge.url}/`,
      });
    }
    // Every function with PutItem on Events (test/runtime/control-plane/audit-archive.test.ts holds this list to the grants).
    const api = this.api;
    this.audit.admitAppenders([
      api.apiFunction,
      api.credentialsFunction,
      this.lifecycle.taskEvents,
      this.lifecycle.reaper,
      this.launcher.fn,
      this.relay.runtimeFunction,
      this.scheduledRuns.fn,
    ]);
    // The names of this stack's own endpoints, let through the VPC's DNS Firewall (agents reach the runtime
    // relay; the relay's functions post to both APIs; the archiver writes the archive bucket).
    new ControlPlaneEgress(this, 'Egress', {
      vpc: network.vpc,
      hosts: [
        {
          host: executeApiHost(this, this.relay.runtimeApi.apiId),
          why: 'agent tasks connect to the runtime relay; the relay posts to their connections',
        },
        { host: executeApiHost(this, this.relay.deviceApi.apiId), why: "the relay posts to devices' connections" },
        {
          host: s3BucketHost(this, this.audit.bucket.bucketName),
          why: 'the archiver writes every event to the audit archive',
        },
      ],
    });
    new CfnOutput(this, 'AuditArchiveBucket', {
      value: this.audit.bucket.bucketName,
      description: 'Audit archive (S3 Object Lock, compliance): npm run audit:verify -- --bucket',
    });
    new CfnOutput(this, 'AuditChainKeyArn', {
      value: this.audit.chainKey.keyArn,
      description: "The audit chain's HMAC key (VerifyMac): npm run audit:verify -- --chain-key",
    });
    new CfnOutput(this, 'SecurityEventsTopicArn', {
      value: this.securityEvents.topic.topicArn,
      description:
        'Security events (RunTask outside the launcher or with overrides, key and secret policy changes, ...): subscribe your security team; they need a CloudTrail trail logging in this region',
    });

    new CfnOutput(this, 'ApiUrl', { value: this.edge.url, description: 'Employee API base URL (CloudFront)' });
    new CfnOutput(this, 'ConsoleUrl', {
      value: `${this.edge.url}/`,
      description: 'The employee console; `cubicle login --url` takes this address',
    });
    new CfnOutput(this, 'DistributionDomainName', {
      value: this.edge.distribution.distributionDomainName,
      description: "Target of the custom domain's CNAME or alias record",
    });
    new CfnOutput(this, 'RelayUrl', {
      value: `${this.edge.url.replace(/^https:/, 'wss:')}/v1/relay`,
      description: 'Device relay (WebSocket; subprotocols cubicle.v1 and bearer.<JWT>)',
    });
    new CfnOutput(this, 'RuntimeRelayUrl', {
      value: this.relay.runtimeUrl,
      description: 'Runtime relay (agent tasks only: IAM-authorized $connect)',
    });
    new CfnOutput(this, 'OriginUrl', {
      value: this.api.url,
      description: 'The API origin: refuses requests that did not come through CloudFront',
    });
    new CfnOutput(this, 'OriginSecretArn', {
      value: this.originSecret.secret.secretArn,
      description: 'Origin-verify secret (rotation: README "Edge")',
    });
    if (this.identity.userPool && this.identity.client) {
      new CfnOutput(this, 'UserPoolId', { value: this.identity.userPool.userPoolId });
      new CfnOutput(this, 'UserPoolClientId', { value: this.identity.client.userPoolClientId });
    }
    Validations.of(this.functionSecurityGroup).acknowledge({
      id: 'NIST.800.53.R5-EC2RestrictedCommonPorts',
      reason: 'Egress only (no ingress rule); 443 is the one port open, to reach AWS APIs.',
    });
  }

  /**
   * The interface endpoints (when on) admit agent tasks only; the credential writer reaches Secrets
   * Manager through them (private DNS), so this stack adds HTTPS from the functions. The rule lives in
   * this stack (remote rule) to keep the Network stack free of references to it.
   */
  private admitToInterfaceEndpoints(network: NetworkStack): void {
    for (const endpoint of network.interfaceEndpoints) {
      for (const group of endpoint.connections.securityGroups) {
        group.addIngressRule(this.functionSecurityGroup, ec2.Port.tcp(443), 'HTTPS from control-plane functions', true);
      }
    }
  }
}
