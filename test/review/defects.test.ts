import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TemplateJson } from '../../scripts/review/templates';
import { REPO_ROOT } from '../support/example-config';
import { copyAssembly, failingClaims, findingsOf, resource, reviewWith } from './support';

/**
 * Each kind of defect, injected into a copy of the synthesized example, makes the review fail and name
 * the claim it breaks, and the resource. The edits are what a bug in a construct would produce.
 */

const FLEET = 'acme-Fleet-01';
const ROLE_ARN = (name: string) => `arn:aws:iam::111111111111:role/cubicle/acme/agents/acme-${name}`;
const fleet = (t: Map<string, TemplateJson>) => t.get(FLEET)!;
/** A control-plane table's ARN as the review resolves it (CloudFormation names tables `<stack>-<logical id>-<suffix>`). */
const TABLE_ARN = (table: string) => `arn:aws:dynamodb:eu-west-1:111111111111:table/acme-Platform-Tables${table}*`;
/** A secret policy names its readers by unique id (`<RoleId>:*`), as the vault writes it. */
const uniqueIdOf = (t: Map<string, TemplateJson>, role: string) => ({
  'Fn::Join': ['', [{ 'Fn::GetAtt': [resource(fleet(t), role, 'AWS::IAM::Role').id, 'RoleId'] }, ':*']],
});
const statements = (role: TemplateJson['Resources'][string]) =>
  role.Properties.Policies[0].PolicyDocument.Statement as any[];

describe('the review fails, naming the claim, when', () => {
  it("a pair's role can read another user's secret (claim 3)", async () => {
    const review = await reviewWith((t) => {
      const secret = resource(fleet(t), 'UserAliceVaultProviderAnthropic', 'AWS::SecretsManager::Secret').id;
      const role = resource(fleet(t), 'UserBrunoAgentWriterTaskRole').resource;
      // The vault and the cell both list bruno/writer as a reader of alice's Anthropic token.
      statements(role).find((s) => s.Sid === 'ReadOwnSecrets').Resource = [
        { Ref: 'UserBrunoVaultProviderGoogle42393F01' },
        { Ref: secret },
      ];
      const policy = resource(fleet(t), 'UserAliceVaultProviderAnthropicPolicy').resource;
      policy.Properties.ResourcePolicy.Statement[0].Condition.StringNotLike['aws:userid'].push(
        uniqueIdOf(t, 'UserBrunoAgentWriterTaskRole'),
      );
    });
    expect(failingClaims(review)).toContain(3);
    expect(findingsOf(review, 3, 'credentials.matrix')).toContain(
      'bruno/writer GetSecretValue cubicle/acme/alice/provider/anthropic: expected Denied, evaluated Allowed',
    );
    expect(findingsOf(review, 3, 'credentials.secrets')).toContain(
      `secret cubicle/acme/alice/provider/anthropic (${FLEET} UserAliceVaultProviderAnthropic7E6CA0B9): its policy lets ${ROLE_ARN('bruno_writer')} read it, but that role's task definition does not use it`,
    );
    expect(findingsOf(review, 3, 'credentials.own-resources')).toEqual([
      expect.stringMatching(
        /^bruno\/writer \(acme-Fleet-01 UserBrunoAgentWriterTaskRole\w+\): statement ReadOwnSecrets names secret cubicle\/acme\/alice\/provider\/anthropic/,
      ),
    ]);
    // The token stays encrypted under alice's key, which bruno/writer still cannot use.
    expect(findingsOf(review, 3, 'credentials.matrix')).not.toContainEqual(expect.stringContaining('Decrypt'));
  });

  it("one agent can read its own user's other agent's secret (claims 3 and 6)", async () => {
    const review = await reviewWith((t) => {
      const role = resource(fleet(t), 'UserAliceAgentSalesTaskRole').resource;
      statements(role)
        .find((s) => s.Sid === 'ReadOwnSecrets')
        .Resource.push({ Ref: 'UserAliceVaultProviderOpenaiE4175B54' });
      resource(
        fleet(t),
        'UserAliceVaultProviderOpenaiPolicy',
      ).resource.Properties.ResourcePolicy.Statement[0].Condition.StringNotLike['aws:userid'].push(
        uniqueIdOf(t, 'UserAliceAgentSalesTaskRole'),
      );
    });
    expect(failingClaims(review)).toEqual(expect.arrayContaining([3, 6]));
    expect(findingsOf(review, 6, 'scope.matrix')).toContain(
      'alice/sales GetSecretValue cubicle/acme/alice/provider/openai: expected Denied, evaluated Allowed',
    );
    expect(findingsOf(review, 6, 'scope.own-resources')).toEqual([
      expect.stringContaining(
        'names secret cubicle/acme/alice/provider/openai, which its task definition does not use',
      ),
    ]);
  });

  it('a user key grants kms:* to the account (claim 3, and the baseline)', async () => {
    const review = await reviewWith((t) => {
      resource(fleet(t), 'UserAliceVaultKey', 'AWS::KMS::Key').resource.Properties.KeyPolicy.Statement.push({
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::111111111111:root' },
        Action: 'kms:*',
        Resource: '*',
      });
    });
    expect(failingClaims(review)).toEqual(expect.arrayContaining([3, 'baseline']));
    expect(findingsOf(review, 3, 'credentials.user-keys')).toEqual([
      expect.stringMatching(
        /^user alice's key acme-Fleet-01 UserAliceVaultKey\w+: statement \(no Sid\) allows kms:\* to arn:aws:iam::111111111111:root: a kms:\* grant on a user key/,
      ),
    ]);
    // AdministratorAccess now decrypts alice's tokens: the evaluator shows it.
    expect(findingsOf(review, 3, 'credentials.administrator')).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^an administrator can decrypt a token: cubicle\/acme\/alice\/provider\/anthropic's key/),
      ]),
    );
    expect(findingsOf(review, 'baseline', 'baseline.wildcard-actions')).toEqual([
      expect.stringMatching(/UserAliceVaultKey\w+\.KeyPolicy: Allow kms:\* to arn:aws:iam::111111111111:root$/),
    ]);
  });

  it("a user key lets a record opener (the relay's device side) seal, not only open (claim 3)", async () => {
    const review = await reviewWith((t) => {
      const key = resource(fleet(t), 'UserAliceVaultKey', 'AWS::KMS::Key').resource;
      key.Properties.KeyPolicy.Statement.find((s: { Sid?: string }) => s.Sid === 'RelayOpensRecordsForDevices').Action =
        ['kms:Decrypt', 'kms:GenerateDataKey'];
    });
    expect(failingClaims(review)).toContain(3);
    expect(findingsOf(review, 3, 'credentials.user-keys')).toEqual([
      expect.stringMatching(
        /statement RelayOpensRecordsForDevices allows kms:Decrypt, kms:GenerateDataKey .*: the record opener arn:aws:iam::111111111111:role\/acme-relay-device may kms:Decrypt, kms:GenerateDataKey, not only Decrypt$/,
      ),
      expect.stringMatching(/the record opener arn:aws:iam::111111111111:role\/acme-relay-fanout may/),
    ]);
  });

  it('a user key lets the scheduled-run function (a record writer) open records, not only seal (claim 3)', async () => {
    const review = await reviewWith((t) => {
      const key = resource(fleet(t), 'UserAliceVaultKey', 'AWS::KMS::Key').resource;
      key.Properties.KeyPolicy.Statement.find((s: { Sid?: string }) => s.Sid === 'ScheduledRunsSealRecords').Action = [
        'kms:Decrypt',
        'kms:GenerateDataKey',
      ];
    });
    expect(findingsOf(review, 3, 'credentials.user-keys')).toEqual([
      expect.stringMatching(
        /statement ScheduledRunsSealRecords allows kms:Decrypt, kms:GenerateDataKey .*: the record writer arn:aws:iam::111111111111:role\/acme-scheduled-run may kms:Decrypt, kms:GenerateDataKey, not only GenerateDataKey$/,
      ),
    ]);
  });

  it('the audit chain key lets an agent role or the whole account MAC rows, or the archive lock is only governance (claim 8)', async () => {
    const review = await reviewWith((t) => {
      const cp = t.get('acme-ControlPlane')!;
      const key = Object.values(cp.Resources).find(
        (r: any) => r.Type === 'AWS::KMS::Key' && r.Properties.KeySpec === 'HMAC_256',
      ) as any;
      key.Properties.KeyPolicy.Statement.push(
        {
          Sid: 'Injected',
          Effect: 'Allow',
          Principal: { AWS: ROLE_ARN('alice_sales') },
          Action: 'kms:GenerateMac',
          Resource: '*',
        },
        {
          Sid: 'InjectedRoot',
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111111111111:root' },
          Action: 'kms:GenerateMac',
          Resource: '*',
        },
      );
      const bucket = Object.values(cp.Resources).find(
        (r: any) =>
          r.Type === 'AWS::S3::Bucket' &&
          r.Properties.ObjectLockConfiguration?.Rule?.DefaultRetention?.Mode === 'COMPLIANCE',
      ) as any;
      bucket.Properties.ObjectLockConfiguration.Rule.DefaultRetention.Mode = 'GOVERNANCE';
    });
    expect(failingClaims(review)).toContain(8);
    expect(findingsOf(review, 8, 'audit.archive')).toEqual([
      expect.stringMatching(
        /statement Injected lets the agent role arn:aws:iam::111111111111:role\/cubicle\/acme\/agents\/acme-alice_sales GenerateMac$/,
      ),
      expect.stringMatching(
        /statement InjectedRoot lets arn:aws:iam::111111111111:root GenerateMac, so any IAM policy in the account can forge rows$/,
      ),
      'no S3 bucket with Object Lock in compliance mode: audit records are not archived immutably in these templates',
    ]);
  });

  it('a stateful resource is not retained (claim 12)', async () => {
    const review = await reviewWith((t) => {
      const table = resource(t.get('acme-Platform'), 'TablesSessions', 'AWS::DynamoDB::Table').resource;
      delete table.DeletionPolicy;
      table.UpdateReplacePolicy = 'Delete';
    });
    expect(failingClaims(review)).toEqual([12]);
    expect(findingsOf(review, 12)).toEqual([
      expect.stringMatching(
        /^AWS::DynamoDB::Table acme-Platform TablesSessions\w+: DeletionPolicy unset, UpdateReplacePolicy Delete$/,
      ),
    ]);
  });

  it('an identity policy allows an action on "*" without a condition (baseline)', async () => {
    const review = await reviewWith((t) => {
      const policy = resource(t.get('acme-ControlPlane'), 'EmployeeApiApiFunctionRoleDefaultPolicy').resource;
      policy.Properties.PolicyDocument.Statement.push({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' });
    });
    expect(failingClaims(review)).toEqual(['baseline']);
    expect(findingsOf(review, 'baseline', 'baseline.star-resources')).toEqual([
      expect.stringMatching(
        /^acme-ControlPlane EmployeeApiApiFunctionRoleDefaultPolicy\w+\.PolicyDocument: Allow s3:GetObject on Resource "\*" without a condition$/,
      ),
    ]);
  });

  it("a pair's role gets table access without a partition condition (claim 5)", async () => {
    // Task roles have no table access at all (every row goes through the relay): a grant without a
    // dynamodb:LeadingKeys condition is the defect a construct bug would add back.
    const review = await reviewWith((t) => {
      const role = resource(fleet(t), 'UserChenAgentOpsTaskRole').resource;
      statements(role).push({
        Sid: 'Injected',
        Effect: 'Allow',
        Action: ['dynamodb:GetItem'],
        Resource: TABLE_ARN('Sessions'),
      });
    });
    expect(failingClaims(review)).toEqual([5]);
    expect(findingsOf(review, 5, 'data.matrix')).toContain(
      'chen/ops dynamodb:GetItem Sessions alice#sales: expected Denied, evaluated Allowed',
    );
    expect(findingsOf(review, 5, 'data.own-resources')).toEqual([
      expect.stringContaining('chen/ops (acme-Fleet-01 UserChenAgentOpsTaskRole'),
    ]);
  });

  it("a runtime may write an approval's decision (claim 7)", async () => {
    const review = await reviewWith((t) => {
      const role = resource(fleet(t), 'UserChenAgentOpsTaskRole').resource;
      // Its own partition only, but the decision among the attributes it may write.
      statements(role).push({
        Sid: 'Injected',
        Effect: 'Allow',
        Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Resource: TABLE_ARN('Approvals'),
        Condition: {
          'ForAllValues:StringEquals': {
            'dynamodb:LeadingKeys': ['chen#ops'],
            'dynamodb:Attributes': ['decision', 'pk', 'sk'],
          },
          Null: { 'dynamodb:LeadingKeys': 'false', 'dynamodb:Attributes': 'false' },
        },
      });
    });
    expect(failingClaims(review)).toEqual([7]);
    expect(findingsOf(review, 7)).toEqual([
      'chen/ops dynamodb:PutItem Approvals decision: expected Denied, evaluated Allowed',
      'chen/ops dynamodb:UpdateItem Approvals decision: expected Denied, evaluated Allowed',
    ]);
  });

  it('the file system keeps the default policy (claim 2)', async () => {
    const review = await reviewWith(
      (t) => delete resource(fleet(t), 'StorageFileSystem').resource.Properties.FileSystemPolicy,
    );
    expect(failingClaims(review)).toEqual([2]);
    expect(findingsOf(review, 2, 'storage.file-systems')).toEqual([
      expect.stringMatching(/StorageFileSystem\w+: no FileSystemPolicy, so EFS's default applies/),
    ]);
    expect(findingsOf(review, 2, 'storage.administrator')).toEqual(
      expect.arrayContaining([expect.stringContaining('an administrator can mount a file system as root')]),
    );
  });

  it('an agent container runs privileged with a writable root, and its tasks accept SSH from anywhere (claims 1 and 10)', async () => {
    const review = await reviewWith((t) => {
      const container = resource(fleet(t), 'UserAliceAgentSalesTaskDefinition').resource.Properties
        .ContainerDefinitions[0];
      container.Privileged = true;
      container.ReadonlyRootFilesystem = false;
      const group = resource(t.get('acme-Network'), 'SecurityGroupsAgentTasks', 'AWS::EC2::SecurityGroup').resource;
      group.Properties.SecurityGroupIngress = [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIp: '0.0.0.0/0' }];
    });
    expect(failingClaims(review)).toEqual([1, 10]);
    expect(findingsOf(review, 1, 'compute.task-definitions')).toEqual([
      expect.stringMatching(
        /^alice\/sales acme-Fleet-01 UserAliceAgentSalesTaskDefinition\w+ container supervisor: root filesystem is writable$/,
      ),
      expect.stringMatching(/container supervisor: privileged$/),
    ]);
    expect(findingsOf(review, 1, 'compute.network')).toEqual([
      expect.stringMatching(/^acme-Network SecurityGroupsAgentTasks\w+: ingress tcp 22 0\.0\.0\.0\/0$/),
    ]);
    expect(findingsOf(review, 10, 'edge.public-surface')).toEqual([
      expect.stringMatching(/ingress from anywhere \(tcp 22 0\.0\.0\.0\/0\)$/),
    ]);
  });

  it('a token is put in a task environment (claim 3)', async () => {
    const review = await reviewWith((t) => {
      const container = resource(fleet(t), 'UserAliceAgentSalesTaskDefinition').resource.Properties
        .ContainerDefinitions[0];
      container.Environment.push({ Name: 'ANTHROPIC_API_KEY', Value: 'sk-ant-api03-notarealkey' });
      container.Secrets = [{ Name: 'CRM_TOKEN', ValueFrom: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:x' }];
    });
    expect(failingClaims(review)).toEqual([3]);
    expect(findingsOf(review, 3, 'credentials.task-configuration')).toEqual([
      expect.stringMatching(/container supervisor: ECS Secrets CRM_TOKEN put secret values in the environment$/),
      expect.stringMatching(/container supervisor: ANTHROPIC_API_KEY holds something other than a secret ARN$/),
    ]);
  });

  it("the CLI's container gets the supervisor's uid, a task-role variable, ECS's init and a writable exchange (claim 4)", async () => {
    const review = await reviewWith((t) => {
      const [supervisor, workbench] = resource(fleet(t), 'UserAliceAgentSalesTaskDefinition').resource.Properties
        .ContainerDefinitions;
      workbench.User = supervisor.User;
      workbench.Environment = [{ Name: 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', Value: '/v2/credentials/x' }];
      workbench.LinuxParameters.InitProcessEnabled = true;
      workbench.MountPoints.find((m: { ContainerPath: string }) => m.ContainerPath === '/run/cubicle').ReadOnly = false;
    });
    // The variable is no secret ARN either: claim 3's task-configuration check names it too.
    expect(failingClaims(review)).toEqual([3, 4]);
    expect(findingsOf(review, 4, 'identity.workbench')).toEqual([
      expect.stringMatching(
        /^alice\/sales acme-Fleet-01 UserAliceAgentSalesTaskDefinition\w+: the workbench runs as the supervisor's uid 10001:10001$/,
      ),
      expect.stringMatching(/the workbench has ECS's init as PID 1/),
      expect.stringMatching(/the workbench has environment variables AWS_CONTAINER_CREDENTIALS_RELATIVE_URI$/),
      expect.stringMatching(/the workbench can write the exchange volume/),
    ]);
  });

  it('a non-Bedrock task role may assume the model invoker, which may also read secrets and trusts any role (claim 4)', async () => {
    const review = await reviewWith((t) => {
      const role = resource(fleet(t), 'UserAliceAgentSalesTaskRole', 'AWS::IAM::Role').resource;
      role.Properties.Policies[0].PolicyDocument.Statement.push({
        Sid: 'X',
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Resource: 'arn:aws:iam::111111111111:role/cubicle/acme/acme-bedrock-invoker',
      });
      const invoker = resource(t.get('acme-Platform'), 'BedrockInvokerRole', 'AWS::IAM::Role').resource;
      invoker.Properties.Policies[0].PolicyDocument.Statement.push({
        Sid: 'Y',
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:cubicle/acme/*',
      });
      delete invoker.Properties.AssumeRolePolicyDocument.Statement[0].Condition.ArnLike;
    });
    expect(findingsOf(review, 4, 'identity.model-invoker')).toEqual([
      expect.stringMatching(
        /^acme-bedrock-invoker: has statements beyond InvokeModel\*: .*secretsmanager:GetSecretValue/,
      ),
      'acme-bedrock-invoker: its trust is not limited to arn:aws:iam::111111111111:role/cubicle/acme/agents/*',
      'alice/sales: may assume acme-bedrock-invoker but is not tagged provider = bedrock',
    ]);
  });

  it('the deploy role trusts any branch of any repository (claim 11)', async () => {
    const review = await reviewWith((t) => {
      const role = resource(t.get('acme-Pipeline'), 'EnvironmentproductionDeployRole', 'AWS::IAM::Role').resource;
      const statement = role.Properties.AssumeRolePolicyDocument.Statement[0];
      statement.Condition = {
        StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' },
        StringLike: { 'token.actions.githubusercontent.com:sub': 'repo:*' },
      };
    });
    expect(failingClaims(review)).toEqual([11]);
    expect(findingsOf(review, 11, 'pipeline.oidc-trust')).toEqual([
      expect.stringMatching(/DeployRole\w+: trust condition operator StringLike \(only StringEquals pins a subject\)$/),
      expect.stringMatching(/DeployRole\w+: sub is not pinned: any repository's workflow may assume it$/),
    ]);
  });

  it('the distribution loses its web ACL and HSTS (claim 10)', async () => {
    const review = await reviewWith((t) => {
      const cp = t.get('acme-ControlPlane');
      delete resource(cp, 'EdgeDistribution', 'AWS::CloudFront::Distribution').resource.Properties.DistributionConfig
        .WebACLId;
      delete resource(cp, 'EdgeSecurityHeaders').resource.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig
        .StrictTransportSecurity;
    });
    expect(failingClaims(review)).toEqual([10]);
    expect(findingsOf(review, 10, 'edge.distributions')).toEqual([
      expect.stringMatching(/EdgeDistribution\w+: no WAF web ACL of this assembly \(WebACLId unset\)$/),
      // The API's policy serves the relay and the API behaviors (the console's default behavior has its own).
      expect.stringMatching(/behavior \/v1\/relay: Strict-Transport-Security is not set/),
      expect.stringMatching(/behavior \/v1\/\*: Strict-Transport-Security is not set/),
    ]);
  });

  it('an API route has no authorizer (claim 4)', async () => {
    const review = await reviewWith((t) => {
      const route = resource(
        t.get('acme-ControlPlane'),
        'EmployeeApiHttpApiGETv1agentsB21',
        'AWS::ApiGatewayV2::Route',
      ).resource;
      route.Properties.AuthorizationType = 'NONE';
      delete route.Properties.AuthorizerId;
    });
    expect(failingClaims(review)).toEqual([4]);
    expect(findingsOf(review, 4)).toEqual([
      expect.stringMatching(
        /^route GET \/v1\/agents \(acme-ControlPlane EmployeeApiHttpApiGETv1agents\w+\) has no authorizer$/,
      ),
    ]);
  });

  it('the task definitions lose their hard cap (claim 9)', async () => {
    const review = await reviewWith((t) => {
      const container = resource(fleet(t), 'UserBrunoAgentResearchTaskDefinition').resource.Properties
        .ContainerDefinitions[0];
      container.Environment = container.Environment.filter((e: any) => e.Name !== 'CUBICLE_MAX_TASK_DURATION_MS');
    });
    expect(failingClaims(review)).toEqual([9]);
    expect(findingsOf(review, 9)).toEqual(['bruno/research: CUBICLE_MAX_TASK_DURATION_MS is unset']);
  });
});

describe('the review does not crash on what it does not know', () => {
  it('a resource type no check covers is listed as "not covered by a claim", and the review still passes', async () => {
    const review = await reviewWith((t) => {
      t.get('acme-Platform')!.Resources.ReplayStream = {
        Type: 'AWS::Kinesis::Stream',
        Properties: { StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' } },
      };
      t.get('acme-ControlPlane')!.Resources.Relay = {
        Type: 'AWS::Foo::Bar',
        Properties: { Anything: { 'Fn::If': ['x', 1, 2] } },
      };
    });
    expect(review.verdict).toBe('pass');
    expect(review.coverage.uncovered).toEqual([
      { type: 'AWS::Foo::Bar', count: 1, resources: ['acme-ControlPlane Relay'] },
      { type: 'AWS::Kinesis::Stream', count: 1, resources: ['acme-Platform ReplayStream'] },
    ]);
  });
});

describe('npm run review on a defect', () => {
  it('exits 1 and names the failing claim and check on the console', () => {
    const assembly = copyAssembly((t) => {
      const table = resource(t.get('acme-Platform'), 'TablesEvents', 'AWS::DynamoDB::Table').resource;
      delete table.DeletionPolicy;
    });
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'scripts/review/cli.ts'), '--assembly', assembly],
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    expect(result.status, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/: FAIL in \d+\.\d s;/);
    expect(result.stdout).toMatch(
      /^FAIL claim 12 \(Nothing lost\) \[retention\.stateful\]: AWS::DynamoDB::Table acme-Platform TablesEvents\w+: DeletionPolicy unset, UpdateReplacePolicy Retain$/m,
    );
  });
});
