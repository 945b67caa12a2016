/**
 * Every token shape masked by shape rather than by value, in one list: the runtime redactor
 * (redact.ts) masks all of them; CloudWatch Logs data protection on the agent logs
 * (lib/constructs/credential-masking.ts) masks those marked `inLogsPolicy`. The providers' shapes come
 * from the provider registry.
 *
 * CloudWatch takes at most 10 custom identifiers and a regex subset (no look-behind, no flags, no
 * multi-line): https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL-custom-data-identifiers.html
 * A shape the redactor must match in a way that subset cannot say carries its own `runtime` pattern.
 */
import { PROVIDER_TOKEN_SHAPES, type TokenShape } from './providers';

export interface MaskedTokenShape extends TokenShape {
  /** Also masked by the agent logs' data-protection policy (the second layer; 10 shapes at most). */
  readonly inLogsPolicy: boolean;
  /** The redactor's pattern where `regex` is not enough (keeps "Bearer" readable, spans lines); global flag. */
  readonly runtime?: RegExp;
}

export const TOKEN_SHAPES: readonly MaskedTokenShape[] = [
  ...PROVIDER_TOKEN_SHAPES.map((shape) => ({ ...shape, inLogsPolicy: true })),
  // Anthropic keys and OAuth tokens also when shorter than a real key (test fixtures, truncated logs).
  {
    name: 'AnthropicTokenPrefix',
    regex: 'sk-ant-[A-Za-z0-9_-]{10,}',
    inLogsPolicy: false,
    runtime: /sk-ant-[A-Za-z0-9_-]{10,}/g,
  },
  // Access key ids are not secret on their own (AWS's managed AwsSecretKey identifier masks the secret half).
  {
    name: 'AwsAccessKeyId',
    regex: '(AKIA|ASIA)[0-9A-Z]{16}',
    inLogsPolicy: false,
    runtime: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
  },
  { name: 'GitHubToken', regex: 'gh[pousr]_[A-Za-z0-9]{30,}', inLogsPolicy: true },
  { name: 'GitHubFineGrainedToken', regex: 'github_pat_[A-Za-z0-9_]{30,}', inLogsPolicy: false },
  { name: 'SlackToken', regex: 'xox[abprs]-[A-Za-z0-9-]{10,}', inLogsPolicy: false },
  {
    name: 'JsonWebToken',
    regex: 'eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}',
    inLogsPolicy: false,
  },
  {
    // CloudWatch masks "Bearer <token>" whole; the redactor keeps the word, so a log still says what was sent.
    name: 'BearerToken',
    // No '~' here: CloudWatch refuses it in a custom identifier (the redactor's pattern below keeps it).
    regex: '[Bb]earer [A-Za-z0-9._+/-]{20,}=*',
    inLogsPolicy: true,
    runtime: /(?<=\b[Bb]earer\s+)[A-Za-z0-9._~+/=-]{16,}/g,
  },
  {
    name: 'PrivateKeyBlock',
    regex: '-----BEGIN [A-Z ]*PRIVATE KEY-----',
    inLogsPolicy: false,
    runtime: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  },
];

/** The redactor's patterns, in registry order. */
export function redactorPatterns(): RegExp[] {
  return TOKEN_SHAPES.map((shape) => shape.runtime ?? new RegExp(`\\b${shape.regex}`, 'g'));
}
