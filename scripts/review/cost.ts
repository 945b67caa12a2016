import { Assembly } from './assembly';
import { FleetModel } from './fleet';

/**
 * The monthly cost of a deployment at idle (nobody talking to an agent), per user and per pair, from
 * the resources in the templates. Usage-priced services (requests, storage, data) are listed with their
 * rates, not guessed.
 */

/**
 * List prices, USD, us-east-1, as published on the AWS pricing pages when this table was written. This
 * machine has no network to re-check them; other regions differ (eu-west-1 NAT gateways are $0.048/h,
 * Fargate about 10% more). Check https://aws.amazon.com/pricing/ before quoting a number.
 */
export const PRICES = {
  asOf: '2025-06',
  region: 'us-east-1',
  hoursPerMonth: 730,
  kmsKeyMonth: 1.0, // + $1/month for each of the first two rotations (yearly rotation: $2 after a year, $3 after two)
  secretMonth: 0.4,
  natGatewayHour: 0.045,
  natGatewayGb: 0.045,
  publicIpv4Hour: 0.005,
  interfaceEndpointAzHour: 0.01,
  wafWebAclMonth: 5.0,
  wafRuleMonth: 1.0,
  wafBotControlMonth: 10.0,
  wafMillionRequests: 0.6,
  lambdaMillionRequests: 0.2,
  lambdaGbSecondArm: 0.0000133334,
  lambdaGbSecondX86: 0.0000166667,
  fargateVcpuHourX86: 0.04048,
  fargateGbHourX86: 0.004445,
  fargateVcpuHourArm: 0.03238,
  fargateGbHourArm: 0.00356,
  httpApiMillionRequests: 1.0,
  dynamoMillionWrites: 0.625,
  dynamoMillionReads: 0.125,
  dynamoGbMonth: 0.25,
  efsGbMonth: 0.3,
  logsIngestGb: 0.5,
  logsGbMonth: 0.03,
  cognitoFreeMau: 10_000,
  cognitoEssentialsMau: 0.015,
} as const;

/** Assumed average duration of a scheduled function run (the reaper queries an index and usually stops nothing). */
const SCHEDULED_RUN_SECONDS = 0.3;

export interface CostLine {
  readonly item: string;
  readonly quantity: number;
  readonly unit: string;
  readonly monthly: number;
}

export interface CostEstimate {
  readonly prices: typeof PRICES;
  readonly idle: readonly CostLine[];
  readonly idleMonthly: number;
  readonly perUserMonthly: number;
  readonly perPairIdleMonthly: number;
  /** Fargate cost of one pair's task per hour awake, by task size. */
  readonly perPairAwakeHour: readonly { readonly size: string; readonly hourly: number }[];
  readonly usageRates: readonly string[];
  readonly caveats: readonly string[];
}

export function estimateCost(assembly: Assembly, fleet: FleetModel): CostEstimate {
  const P = PRICES;
  const idle: CostLine[] = [];
  const add = (item: string, quantity: number, unit: string, monthly: number) => {
    if (quantity > 0) idle.push({ item, quantity, unit, monthly: round(monthly) });
  };
  const userKeyCount = fleet.userKeys.length;
  const keys = assembly.resources('AWS::KMS::Key').length;
  add(
    'KMS keys (platform, logs, edge)',
    keys - userKeyCount,
    `$${P.kmsKeyMonth}/key`,
    (keys - userKeyCount) * P.kmsKeyMonth,
  );
  add('KMS keys (one per user)', userKeyCount, `$${P.kmsKeyMonth}/key`, userKeyCount * P.kmsKeyMonth);
  const secrets = assembly.resources('AWS::SecretsManager::Secret').length;
  add('Secrets Manager secrets', secrets, `$${P.secretMonth}/secret`, secrets * P.secretMonth);
  const nats = assembly.resources('AWS::EC2::NatGateway').length;
  add('NAT gateways', nats, `$${P.natGatewayHour}/h`, nats * P.natGatewayHour * P.hoursPerMonth);
  const ips = assembly.resources('AWS::EC2::EIP').length;
  add('Public IPv4 addresses (NAT)', ips, `$${P.publicIpv4Hour}/h`, ips * P.publicIpv4Hour * P.hoursPerMonth);
  const endpointAzs = assembly
    .resources('AWS::EC2::VPCEndpoint')
    .map((e) => assembly.props(e))
    .filter((p) => p.VpcEndpointType === 'Interface')
    .reduce((n, p) => n + Math.max(1, (p.SubnetIds ?? []).length), 0);
  add(
    'Interface VPC endpoints (endpoint × AZ)',
    endpointAzs,
    `$${P.interfaceEndpointAzHour}/h`,
    endpointAzs * P.interfaceEndpointAzHour * P.hoursPerMonth,
  );
  for (const acl of assembly.resources('AWS::WAFv2::WebACL')) {
    const rules = assembly.props(acl).Rules ?? [];
    const bot = rules.filter(
      (r: any) => r.Statement?.ManagedRuleGroupStatement?.Name === 'AWSManagedRulesBotControlRuleSet',
    ).length;
    add(
      `WAF web ACL ${acl.logicalId} and its ${rules.length} rules`,
      1,
      `$${P.wafWebAclMonth} + $${P.wafRuleMonth}/rule`,
      P.wafWebAclMonth + rules.length * P.wafRuleMonth + bot * P.wafBotControlMonth,
    );
  }
  for (const rule of assembly.resources('AWS::Events::Rule')) {
    const props = assembly.props(rule);
    const minutes = /^rate\((\d+) minutes?\)$/.exec(String(props.ScheduleExpression ?? ''));
    if (!minutes) continue;
    const runs = (P.hoursPerMonth * 60) / Number(minutes[1]);
    const targets = (props.Targets ?? []).map((t: any) => String(t.Arn));
    const fn = assembly
      .resources('AWS::Lambda::Function')
      .find((f) => targets.includes(assembly.resolver.getAtt(f.stack, f.logicalId, 'Arn')));
    const fp = fn ? assembly.props(fn) : {};
    const gbSecond =
      (Number(fp.MemorySize ?? 128) / 1024) *
      SCHEDULED_RUN_SECONDS *
      ((fp.Architectures ?? []).includes('arm64') ? P.lambdaGbSecondArm : P.lambdaGbSecondX86);
    add(
      `scheduled function runs (${props.ScheduleExpression}, ~${SCHEDULED_RUN_SECONDS} s each)`,
      Math.round(runs),
      'Lambda requests + GB-s',
      runs * (P.lambdaMillionRequests / 1e6 + gbSecond),
    );
  }
  const poolUsers = assembly.resources('AWS::Cognito::UserPoolUser').length;
  if (poolUsers > 0)
    add(
      `Cognito user pool (${poolUsers} users; first ${P.cognitoFreeMau.toLocaleString('en-US')} monthly active users free)`,
      poolUsers,
      `$${P.cognitoEssentialsMau}/MAU beyond`,
      Math.max(0, poolUsers - P.cognitoFreeMau) * P.cognitoEssentialsMau,
    );

  const users = new Set(fleet.pairs.map((p) => p.userId)).size || userKeyCount;
  const userSecrets = fleet.secrets.length;
  const perUser = users > 0 ? P.kmsKeyMonth + (userSecrets / users) * P.secretMonth : 0;
  const sizes = new Map<string, number>();
  for (const td of fleet.taskDefinitions) {
    const cpu = Number(td.props.Cpu) / 1024;
    const gb = Number(td.props.Memory) / 1024;
    const arm = td.props.RuntimePlatform?.CpuArchitecture === 'ARM64';
    sizes.set(
      `${cpu} vCPU, ${gb} GB, ${arm ? 'arm64' : 'x86_64'}`,
      round(
        cpu * (arm ? P.fargateVcpuHourArm : P.fargateVcpuHourX86) +
          gb * (arm ? P.fargateGbHourArm : P.fargateGbHourX86),
        4,
      ),
    );
  }
  return {
    prices: P,
    idle,
    idleMonthly: round(idle.reduce((n, l) => n + l.monthly, 0)),
    perUserMonthly: round(perUser),
    perPairIdleMonthly: 0,
    perPairAwakeHour: [...sizes].map(([size, hourly]) => ({ size, hourly })),
    usageRates: [
      `NAT data processing $${P.natGatewayGb}/GB (model and tool traffic of awake agents)`,
      `WAF $${P.wafMillionRequests} and HTTP API $${P.httpApiMillionRequests} per million requests; CloudFront within its free tier (10 million requests, 1 TB a month), then about $1 per million HTTPS requests`,
      `DynamoDB on demand $${P.dynamoMillionWrites} per million writes, $${P.dynamoMillionReads} per million reads, $${P.dynamoGbMonth}/GB-month (+ point-in-time recovery)`,
      `EFS $${P.efsGbMonth}/GB-month of workspace files (elastic throughput billed per GB transferred)`,
      `CloudWatch Logs $${P.logsIngestGb}/GB ingested, $${P.logsGbMonth}/GB-month stored`,
    ],
    caveats: [
      `List prices of ${P.region} as of ${P.asOf}; other regions differ, and they were not re-checked when this report was generated.`,
      "A pair costs nothing while asleep (role, task definition and access point are free); awake, it costs its task's Fargate hours.",
      'Not included: Container Insights (enhanced) metrics, ECR image storage (about $0.10/GB-month), KMS and Secrets Manager API calls, data transfer out, support plans, taxes.',
    ],
  };
}

function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
