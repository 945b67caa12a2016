import * as logs from 'aws-cdk-lib/aws-logs';
import { PROVIDER_TOKEN_SHAPES } from '../../runtime/shared/providers';

/**
 * Token shapes masked in agent logs by CloudWatch Logs data protection, in addition to AWS's managed
 * credential identifiers. Defence in depth: the entrypoint's redactor masks loaded secrets before logging.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/mask-sensitive-log-data.html
 * Limits (10 custom identifiers, 200-character regexes): https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL-custom-data-identifiers.html
 */
export const CUSTOM_CREDENTIAL_PATTERNS: ReadonlyArray<readonly [name: string, regex: string]> = [
  // Every provider's key and token shapes, from the provider registry (the redactor masks the same).
  ...PROVIDER_TOKEN_SHAPES.map((shape) => [shape.name, shape.regex] as const),
  ['GitHubToken', 'gh[pousr]_[A-Za-z0-9]{36,}'],
  ['BearerToken', '[Bb]earer [A-Za-z0-9._~+/-]{20,}=*'],
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
