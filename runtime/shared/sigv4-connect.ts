/**
 * SigV4 for the runtime relay's `$connect` (IAM authorization, service `execute-api`): the supervisor
 * signs the WebSocket upgrade request with its task role's credentials, in headers (never in the URL,
 * which would put the session token in access logs). The local adapter (local/relay/iam.ts) checks the
 * same signature by signing the same request again. The SDK's signer does the cryptography.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-control-access-iam.html
 */
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export const SIGNED_CONNECT_HEADERS = ['host', 'x-amz-date', 'x-amz-security-token'] as const;

/** The headers to add to the upgrade request of `url` (ws:// or wss://). */
export async function signConnect(
  url: string,
  credentials: AwsCredentials,
  region: string,
  signingDate = new Date(),
): Promise<Record<string, string>> {
  const u = new URL(url);
  if (u.search) throw new Error('the relay URL takes no query string');
  const signer = new SignatureV4({ service: 'execute-api', region, credentials, sha256: Sha256, uriEscapePath: true });
  const signed = await signer.sign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname: u.hostname,
      port: u.port ? Number(u.port) : undefined,
      path: u.pathname,
      headers: { host: u.host },
      query: {},
    },
    { signingDate, signableHeaders: new Set(SIGNED_CONNECT_HEADERS) },
  );
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers))
    if (name.toLowerCase() !== 'host') headers[name] = String(value);
  return headers;
}
