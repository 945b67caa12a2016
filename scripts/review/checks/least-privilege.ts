import { listOf, principalsOf } from '../policies';
import { Check, code, outcome } from './types';

/**
 * Identity-policy actions that AWS only authorizes on Resource "*", each with the reason. A new entry
 * here is a security decision: add it with its documentation link.
 */
export const ACTIONS_REQUIRING_STAR_RESOURCE: Readonly<Record<string, string>> = {
  'ecr:GetAuthorizationToken':
    'https://docs.aws.amazon.com/AmazonECR/latest/userguide/security_iam_id-based-policy-examples.html',
  'ec2:CreateNetworkInterface': 'Lambda in a VPC: https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html',
  'ec2:DescribeNetworkInterfaces': 'Lambda in a VPC',
  'ec2:DeleteNetworkInterface': 'Lambda in a VPC',
  'ec2:AssignPrivateIpAddresses': 'Lambda in a VPC',
  'ec2:UnassignPrivateIpAddresses': 'Lambda in a VPC',
  'xray:PutTraceSegments':
    'X-Ray has no resource-level permissions: https://docs.aws.amazon.com/xray/latest/devguide/security_iam_service-with-iam.html',
  'xray:PutTelemetryRecords': 'X-Ray has no resource-level permissions',
  'dynamodb:ListStreams':
    "no resource-level permissions (the relay fan-out's stream source): https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html",
  'ecs:ListTasks':
    'its only resource type is container-instance (none on Fargate); the control plane scopes it with an ecs:cluster condition: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html',
};

const isAccountRoot = (principal: string) => /^arn:[a-z-]+:iam::\d{12}:root$/.test(principal);

export const wildcardActions: Check = {
  id: 'baseline.wildcard-actions',
  claim: 'baseline',
  title:
    "No Allow of `*` or `service:*` actions (AWS's default key-policy statement for the account, on keys that are not user keys, excepted), no NotAction or NotResource",
  run({ statements, fleet, assembly }) {
    const userKeys = new Set(fleet.userKeys.map((k) => `${k.stack}/${k.logicalId}`));
    const findings: string[] = [];
    let delegations = 0;
    for (const s of statements) {
      if (s.statement.Effect !== 'Allow') continue;
      const where = `${s.stack} ${s.where}`;
      if (s.statement.NotAction !== undefined)
        findings.push(`${where}: Allow with NotAction ${code(s.statement.NotAction)}`);
      if (s.statement.NotResource !== undefined)
        findings.push(`${where}: Allow with NotResource ${code(s.statement.NotResource)}`);
      const wildcards = listOf(s.statement.Action).filter((a) => a === '*' || /^[a-z0-9-]+:\*$/i.test(a));
      if (wildcards.length === 0) continue;
      const principals = principalsOf(s.statement);
      const keyDelegation =
        s.resourceType === 'AWS::KMS::Key' &&
        wildcards.every((a) => a === 'kms:*') &&
        principals.length > 0 &&
        principals.every(isAccountRoot) &&
        !s.statement.Condition;
      if (keyDelegation && !userKeys.has(`${s.stack}/${s.logicalId}`)) {
        delegations += 1;
        continue;
      }
      findings.push(
        `${where}: Allow ${wildcards.join(', ')}${principals.length ? ` to ${principals.join(', ')}` : ''}`,
      );
    }
    return outcome(
      [
        `${statements.length} policy statements read in ${assembly.stacks.length} stacks; ${delegations} key policies keep AWS's default \`kms:*\` for the account root (keys that are not user keys)`,
      ],
      findings,
    );
  },
};

export const starResources: Check = {
  id: 'baseline.star-resources',
  claim: 'baseline',
  title: 'An identity policy allows `Resource: "*"` only for actions AWS authorizes on "*" alone',
  run({ statements }) {
    const findings: string[] = [];
    const used = new Set<string>();
    for (const s of statements) {
      if (s.kind !== 'identity' || s.statement.Effect !== 'Allow' || !listOf(s.statement.Resource).includes('*'))
        continue;
      for (const action of listOf(s.statement.Action)) {
        if (ACTIONS_REQUIRING_STAR_RESOURCE[action]) used.add(action);
        else
          findings.push(
            `${s.stack} ${s.where}: Allow ${action} on Resource "*"${s.statement.Condition ? ` (with condition ${code(s.statement.Condition)})` : ' without a condition'}`,
          );
      }
    }
    return outcome(
      [
        `actions allowed on "*": ${[...used].sort().map(code).join(', ') || 'none'}, each because AWS offers no narrower resource`,
      ],
      findings,
    );
  },
};
