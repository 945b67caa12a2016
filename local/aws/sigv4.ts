/**
 * Verifies an AWS Signature Version 4 request the way AWS does: the signature is computed again from the
 * request with the caller's secret key (by the SDK's own signer, @smithy/signature-v4) and compared in
 * constant time; a request older or newer than 15 minutes is refused.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { AwsError } from './errors';
import type { CredentialStore, Principal } from './principals';

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const MAX_SKEW_MS = 15 * 60_000;

export async function authenticate(
  store: CredentialStore,
  req: IncomingMessage,
  body: Buffer,
  service: string,
  now = Date.now(),
): Promise<Principal> {
  const header = req.headers.authorization;
  const match = typeof header === 'string' ? AUTHORIZATION.exec(header) : null;
  if (!match)
    throw new AwsError('IncompleteSignatureException', 'The request must be signed with AWS Signature Version 4.', 403);
  const [, accessKeyId, , region, signedService, signedHeaders, signature] = match;
  const caller = store.lookup(accessKeyId);
  if (!caller)
    throw new AwsError('UnrecognizedClientException', 'The security token included in the request is invalid.', 403);
  if (signedService !== service)
    throw new AwsError(
      'InvalidSignatureException',
      `Credential should be scoped to correct service: '${service}'.`,
      403,
    );
  const amzDate = req.headers['x-amz-date'];
  const signingDate = typeof amzDate === 'string' ? parseAmzDate(amzDate) : undefined;
  if (!signingDate || Math.abs(now - signingDate.getTime()) > MAX_SKEW_MS) {
    throw new AwsError('InvalidSignatureException', 'Signature expired or not yet valid.', 403);
  }
  const headers: Record<string, string> = {};
  for (const name of signedHeaders.split(';')) {
    const value = req.headers[name];
    if (value === undefined) throw new AwsError('InvalidSignatureException', `Signed header ${name} is missing.`, 403);
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  const [hostname, port] = (headers.host ?? '').split(':');
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey: caller.secretAccessKey },
    region,
    service: signedService,
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: true,
  });
  const expected = await signer.sign(
    {
      method: req.method ?? 'POST',
      protocol: 'http:',
      hostname,
      port: port ? Number(port) : undefined,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body: body.toString('utf8'),
    },
    { signingDate },
  );
  const got = /Signature=([0-9a-f]{64})$/.exec(String(expected.headers.authorization))?.[1] ?? '';
  if (got.length !== signature.length || !timingSafeEqual(Buffer.from(got), Buffer.from(signature))) {
    throw new AwsError(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided.',
      403,
    );
  }
  return caller.principal;
}

function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : undefined;
}
