import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../lib/config/load';
import { readAssembly } from '../../scripts/review/assembly';
import { ChangeKind, diffAssemblies } from '../../scripts/review/diff';
import { renderDiff } from '../../scripts/review/render';
import { exampleConfigText } from '../support/example-config';
import { synthesize } from '../support/synth';
import { copyAssembly, exampleAssemblyDir, resource } from './support';

/** `npm run review -- --against OLD`: the security-relevant changes between two assemblies. */

const example = () => readAssembly(exampleAssemblyDir());
const kinds = (changes: readonly { kind: ChangeKind }[]) => [...new Set(changes.map((c) => c.kind))].sort();

describe('--against', () => {
  it('finds nothing between an assembly and itself', () => {
    const diff = diffAssemblies(example(), readAssembly(copyAssembly()));
    expect(diff.changes).toEqual([]);
    expect(renderDiff(diff).join('\n')).toContain('No security-relevant change');
  });

  it('lists new and widened grants, removed denies, trust changes, replaced or unretained state, and new public surface', () => {
    const changed = readAssembly(
      copyAssembly((t) => {
        const cp = t.get('acme-ControlPlane')!;
        const fleet = t.get('acme-Fleet-01')!;
        resource(cp, 'EmployeeApiApiFunctionRoleDefaultPolicy').resource.Properties.PolicyDocument.Statement.push({
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: 'arn:aws:s3:::acme-exports/*',
        });
        const mount = resource(
          fleet,
          'UserBrunoAgentWriterTaskRole',
          'AWS::IAM::Role',
        ).resource.Properties.Policies[0].PolicyDocument.Statement.find((s: any) => s.Sid === 'MountOwnAccessPoint');
        delete mount.Condition;
        resource(fleet, 'UserAliceVaultProviderAnthropicPolicy').resource.Properties.ResourcePolicy.Statement.splice(
          1,
          1,
        );
        resource(
          t.get('acme-Pipeline'),
          'EnvironmentproductionDeployRole',
          'AWS::IAM::Role',
        ).resource.Properties.AssumeRolePolicyDocument.Statement[0].Condition.StringEquals[
          'token.actions.githubusercontent.com:sub'
        ] = 'repo:acme/cubicle-deploy:pull_request';
        const sessions = resource(t.get('acme-Platform'), 'TablesSessions', 'AWS::DynamoDB::Table').resource;
        sessions.Properties.KeySchema = [{ AttributeName: 'id', KeyType: 'HASH' }];
        resource(t.get('acme-Platform'), 'TablesEvents', 'AWS::DynamoDB::Table').resource.DeletionPolicy = 'Delete';
        const route = resource(cp, 'EmployeeApiHttpApiGETv1agentsB21', 'AWS::ApiGatewayV2::Route').resource;
        cp.Resources.OpenRoute = {
          Type: 'AWS::ApiGatewayV2::Route',
          Properties: {
            ...route.Properties,
            RouteKey: 'GET /v1/debug',
            AuthorizationType: 'NONE',
            AuthorizerId: undefined,
          },
        };
      }),
    );
    const diff = diffAssemblies(example(), changed);
    expect(kinds(diff.changes)).toEqual([
      'deny-removed',
      'grant-added',
      'grant-widened',
      'public-surface',
      'retention-weakened',
      'stateful-replaced',
      'trust-changed',
    ]);
    const of = (kind: ChangeKind) => diff.changes.filter((c) => c.kind === kind).map((c) => `${c.where}: ${c.detail}`);
    expect(of('grant-added')).toEqual([
      expect.stringMatching(
        /^acme-ControlPlane EmployeeApiApiFunctionRoleDefaultPolicy\w+\.PolicyDocument: Allow s3:GetObject on arn:aws:s3:::acme-exports\/\*$/,
      ),
    ]);
    expect(of('grant-widened')).toEqual([
      expect.stringMatching(
        /UserBrunoAgentWriterTaskRole\w+\.Policies\.agent: Allow elasticfilesystem:ClientMount.* on \S+: condition .*AccessPointArn.* → (?!.*AccessPointArn)/,
      ),
    ]);
    expect(of('deny-removed')).toEqual([
      expect.stringMatching(
        /UserAliceVaultProviderAnthropicPolicy\w+\.ResourcePolicy: Deny secretsmanager:PutSecretValue on \* to \* when .*acme-credential-writer/,
      ),
    ]);
    expect(of('trust-changed')).toEqual([
      expect.stringMatching(/DeployRole\w+: .*environment:production.* → .*pull_request/),
    ]);
    expect(of('stateful-replaced')).toEqual([
      expect.stringMatching(/TablesSessions\w+: AWS::DynamoDB::Table KeySchema .* CloudFormation replaces it$/),
    ]);
    expect(of('retention-weakened')).toEqual([
      expect.stringMatching(
        /TablesEvents\w+: AWS::DynamoDB::Table: DeletionPolicy Delete, UpdateReplacePolicy Retain$/,
      ),
    ]);
    expect(of('public-surface')).toEqual(['API routes: added: acme-ControlPlane GET /v1/debug (authorization NONE)']);
    expect(diff.resourcesAdded).toEqual({ 'AWS::ApiGatewayV2::Route': 1 });
    const md = renderDiff(diff).join('\n');
    expect(md).toContain('### New grant (1)');
    expect(md).toContain('### Deny removed (1)');
  });

  it("lists a removed user's key and secrets as left in place, and touches no other user's resources", () => {
    // The example without chen, and with a new user dana: a roster edit as a pull request would make it.
    const text = exampleConfigText().replace(
      / {2}- id: chen[\s\S]*$/,
      '  - id: dana\n    email: dana@acme.example\n    agents:\n      - { id: ops, provider: anthropic }\n',
    );
    const edited = readAssembly(synthesize(parseConfigText(text, 'roster edit')).outdir);
    const diff = diffAssemblies(example(), edited);
    const removed = diff.changes.filter((c) => c.kind === 'stateful-removed');
    expect(removed.map((c) => c.where.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(
      // Secret policies are retained with their secrets: a retained secret without its denials is readable by whatever IAM allows.
      [
        'UserChenVaultConnectionCrm',
        'UserChenVaultConnectionCrmPolicy',
        'UserChenVaultKey',
        'UserChenVaultProviderAnthropic',
        'UserChenVaultProviderAnthropicPolicy',
        'UserChenVaultProviderOpenai',
        'UserChenVaultProviderOpenaiPolicy',
      ].map((id) => `acme-Fleet-01 ${id}`),
    );
    for (const c of removed) expect(c.detail).toMatch(/is left in place, orphaned \(retained\)$/);
    expect(
      diff.changes.filter(
        (c) => /UserAlice|UserBruno|alice|bruno/.test(`${c.where} ${c.detail}`) && !/chen|dana/.test(c.detail),
      ),
    ).toEqual([]);
    expect(diff.changes.filter((c) => c.kind === 'grant-added').map((c) => c.where)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^acme-Fleet-01 UserDanaAgentOpsTaskRole\w+\.Policies\.agent$/)]),
    );
  });
});
