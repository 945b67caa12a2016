import * as logs from 'aws-cdk-lib/aws-logs';

/**
 * Token shapes masked in agent logs by CloudWatch Logs data protection, in addition to AWS's managed
 * credential identifiers. Defence in depth: the entrypoint's redactor masks loaded secrets before logging.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/mask-sensitive-log-data.html
 */
export const CUSTOM_CREDENTIAL_PATTERNS: ReadonlyArray<readonly [name: string, regex: string]> = [
  ['AnthropicApiKey', 'sk-ant-[A-Za-z0-9_-]{20,}'],
  ['OpenAiApiKey', 'sk-(proj-)?[A-Za-z0-9_-]{20,}'],
  ['GoogleApiKey', 'AIza[0-9A-Za-z_-]{35}'],
  ['GitHubToken', 'gh[pousr]_[A-Za-z0-9]{36,}'],
  ['BearerToken', '[Bb]earer [A-Za-z0-9._~+/-]{20,}=*'],
];

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
