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

/** CloudWatch Logs takes at most 10 custom data identifiers per policy (checked at synth by the test). */
export const MAX_CUSTOM_IDENTIFIERS = 10;

export function credentialMaskingPolicy(): logs.DataProtectionPolicy {
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
