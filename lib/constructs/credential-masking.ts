import * as logs from 'aws-cdk-lib/aws-logs';
import { TOKEN_SHAPES } from '../../runtime/shared/token-shapes';

/**
 * Token shapes masked in agent logs by CloudWatch Logs data protection, in addition to AWS's managed
 * credential identifiers. Defence in depth: the entrypoint's redactor masks loaded secrets before logging.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/mask-sensitive-log-data.html
 * Limits (10 custom identifiers, 200-character regexes): https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL-custom-data-identifiers.html
 */
export const CUSTOM_CREDENTIAL_PATTERNS: ReadonlyArray<readonly [name: string, regex: string]> = [
  // The registry's shapes marked for the logs policy (the redactor masks all of them, and more).
  ...TOKEN_SHAPES.filter((shape) => shape.inLogsPolicy).map((shape) => [shape.name, shape.regex] as const),
];

/** CloudWatch Logs takes at most 10 custom data identifiers per policy. */
export const MAX_CUSTOM_IDENTIFIERS = 10;
/** The characters CloudWatch accepts in a custom identifier's regex (no groups: no parentheses), at most 200 of them. */
const CLOUDWATCH_REGEX = /^[A-Za-z0-9_#=@/;, ^$?[\]{}|\\*+.-]{1,200}$/;

/**
 * Why CloudWatch would refuse these identifiers at deploy time, one line each (none: they are valid). CDK
 * checks neither the character set nor the count, and a refused policy fails the Platform stack's deploy.
 */
export function customIdentifierProblems(patterns: ReadonlyArray<readonly [string, string]>): string[] {
  const problems: string[] = [];
  if (patterns.length > MAX_CUSTOM_IDENTIFIERS)
    problems.push(`${patterns.length} custom data identifiers, CloudWatch takes at most ${MAX_CUSTOM_IDENTIFIERS}`);
  for (const [name, regex] of patterns) {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(name)) problems.push(`${name}: the name may hold only A-Z, a-z, 0-9, _ and -`);
    if (!CLOUDWATCH_REGEX.test(regex))
      problems.push(
        `${name}: the regex ${JSON.stringify(regex)} is longer than 200 characters or holds a character CloudWatch refuses (allowed: letters, digits, _ # = @ / ; , - space ^ $ ? [ ] { } | \\ * + .)`,
      );
  }
  return problems;
}

export function credentialMaskingPolicy(): logs.DataProtectionPolicy {
  const problems = customIdentifierProblems(CUSTOM_CREDENTIAL_PATTERNS);
  if (problems.length > 0) throw new Error(`agent logs' data-protection policy: ${problems.join('; ')}`);
  return new logs.DataProtectionPolicy({
    name: 'cubicle-credential-masking',
    description: 'Masks credentials and provider tokens in agent logs',
    identifiers: [
      logs.DataIdentifier.AWSSECRETKEY,
      logs.DataIdentifier.OPENSSHPRIVATEKEY,
      logs.DataIdentifier.PGPPRIVATEKEY,
      logs.DataIdentifier.PKCSPRIVATEKEY,
      logs.DataIdentifier.PUTTYPRIVATEKEY,
      ...CUSTOM_CREDENTIAL_PATTERNS.map(([name, regex]) => new logs.CustomDataIdentifier(name, regex)),
    ],
  });
}
