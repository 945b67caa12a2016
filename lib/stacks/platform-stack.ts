import { Aws, SymlinkFollowMode, Validations } from 'aws-cdk-lib';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import { checkImageSkillsLink } from '../config/skills-catalog';
import { AGENT_IMAGE_DIRECTORY, AgentImages } from '../constructs/agent-images';
import { AuditTrail } from '../constructs/audit-trail';
import { BedrockInvoker } from '../constructs/bedrock-invoker';
import { ControlPlaneTables } from '../constructs/control-plane-tables';
import { credentialMaskingPolicy } from '../constructs/credential-masking';
import { createRetainedKey } from '../constructs/retained-key';
import { allowLogsService, EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { CubicleStack, CubicleStackProps } from './cubicle-stack';
import { NetworkStack } from './network-stack';
import { writeAgentBundles } from '../../runtime/agent/build';

export { AGENT_IMAGE_DIRECTORY } from '../constructs/agent-images';
/**
 * `runtime/agent/skills` links to the repository's `skills/` folder, outside the image's build context:
 * CDK stages what the link points to (and hashes it), so the image gets the skills the config was checked
 * against (lib/config/skills-catalog.ts).
 */
export const AGENT_IMAGE_FOLLOW_SYMLINKS = SymlinkFollowMode.ALWAYS;

export interface PlatformStackProps extends CubicleStackProps {
  readonly network: NetworkStack;
}

/** Shared by every agent: the ECS cluster, the agent images (one per CLI), the execution role, logs and the platform key. */
export class PlatformStack extends CubicleStack {
  readonly key: kms.Key;
  readonly cluster: ecs.Cluster;
  /** One agent image per (CLI, set of skills) the roster's agents use (claim 6 of docs/isolation-claims.md; README "Wake time"). */
  readonly agentImages: AgentImages;
  readonly executionRole: iam.Role;
  readonly agentLogGroup: logs.LogGroup;
  /** Sessions, Inbox, Events, Approvals: partitioned by `<user>#<agent>` (runtime/shared/tables.ts). */
  readonly tables: ControlPlaneTables['tables'];
  /** With `audit.trail: true`: this deployment's CloudTrail trail (management + table data events). */
  readonly auditTrail?: AuditTrail;
  /** With `bedrock` in `providers`: the role Bedrock agents' CLIs get short-lived sessions of. */
  readonly bedrockInvoker?: BedrockInvoker;

  constructor(scope: Construct, id: string, props: PlatformStackProps) {
    super(scope, id, props);
    const { config, network } = props;

    this.key = createRetainedKey(this, 'PlatformKey', {
      description: 'Cubicle: encrypts agent logs, control-plane tables and EFS',
    });
    allowLogsService(this.key);

    this.tables = new ControlPlaneTables(this, 'Tables', { encryptionKey: this.key }).tables;
    if (config.audit.trail) {
      this.auditTrail = new AuditTrail(this, 'Audit', {
        tables: Object.values(this.tables),
        retentionDays: config.logs.retentionDays,
      });
    }

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: network.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENHANCED,
    });

    checkImageSkillsLink(AGENT_IMAGE_DIRECTORY);
    // The image copies dist/ (built here, not committed): the asset hash below covers a fresh build of the
    // sources. Building it is bundling (esbuild, ~1 s of CPU): skipped, as CDK skips every asset's bundling,
    // when no stack of this synth is bundled (`aws:cdk:bundling-stacks` empty: `cdk ls`, the tests,
    // bench-synth's template-only variants); the hash then covers dist/ as it is (the tests build it once, in
    // test/support/global-setup.ts). Any stack bundled, e.g. `cdk deploy <a Fleet stack>`, builds it: a
    // Fleet template names the image by this hash.
    if (bundlesAnyStack(this)) writeAgentBundles();
    this.agentImages = new AgentImages(this, 'AgentImages', {
      directory: AGENT_IMAGE_DIRECTORY,
      followSymlinks: AGENT_IMAGE_FOLLOW_SYMLINKS,
      agents: config.users.flatMap((user) =>
        user.agents.map((agent) => ({ provider: agent.provider, skills: agent.skills })),
      ),
      platform:
        config.runtime.architecture === 'arm64' ? ecrAssets.Platform.LINUX_ARM64 : ecrAssets.Platform.LINUX_AMD64,
    });

    if (config.providers.includes('bedrock'))
      this.bedrockInvoker = new BedrockInvoker(this, 'BedrockInvoker', { config });

    this.agentLogGroup = new EncryptedLogGroup(this, 'AgentLogs', {
      retentionDays: config.logs.retentionDays,
      purpose: 'agent logs',
      encryptionKey: this.key,
      dataProtectionPolicy: credentialMaskingPolicy(),
    }).logGroup;

    this.executionRole = new iam.Role(this, 'TaskExecutionRole', {
      description: 'Cubicle: ECS pulls the agent image and writes agent logs (never reads secrets)',
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com', {
        // Confused-deputy guard: only ECS acting for this account may assume the role.
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:ecs:${Aws.REGION}:${Aws.ACCOUNT_ID}:*` },
        },
      }),
    });
    for (const image of this.agentImages.all) image.repository.grantPull(this.executionRole);
    this.agentLogGroup.grantWrite(this.executionRole);
    Validations.of(this.executionRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ecr:GetAuthorizationToken supports only Resource "*" (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html); image pulls are scoped to the asset repository.',
    });
    Validations.of(this.executionRole).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason:
        "The policy is generated from grants on this stack's log group and image repository and lives and dies with the role; a managed policy would add a resource without narrowing access.",
    });
  }
}

/** Whether this synth bundles any stack's assets (CDK's `aws:cdk:bundling-stacks`: default every stack). */
function bundlesAnyStack(scope: Construct): boolean {
  const stacks: unknown = scope.node.tryGetContext(cxapi.BUNDLING_STACKS);
  return !Array.isArray(stacks) || stacks.length > 0;
}
