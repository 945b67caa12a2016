/**
 * A stand-in for API Gateway's IAM authorization of `$connect`: checks the SigV4 signature of the
 * upgrade request against known local credentials by signing the same request again with the SDK's
 * signer (runtime/shared/sigv4-connect.ts), and answers the caller's ARN as API Gateway would put it in
 * `requestContext.identity.userArn`. Local mode registers each task's credentials with the role session
 * ARN it stands for (`arn:aws:sts::<account>:assumed-role/<role>/<task id>`).
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { signConnect, type AwsCredentials } from '../../runtime/shared/sigv4-connect';

export interface LocalPrincipal extends AwsCredentials {
  /** The ARN API Gateway reports for this caller. */
  readonly arn: string;
}

/** Signatures older or newer than this are refused (SigV4's own limit). */
const MAX_SKEW_MS = 5 * 60_000;
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/execute-api\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$/;

export class IamStandIn {
  private readonly principals = new Map<string, LocalPrincipal>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Admits a principal's credentials; returns a function that revokes them. */
  register(principal: LocalPrincipal): () => void {
    this.principals.set(principal.accessKeyId, principal);
    return () => this.principals.delete(principal.accessKeyId);
  }

  /** The caller's ARN if the request is signed by registered credentials, else undefined. */
  async verify(req: IncomingMessage, scheme: 'ws' | 'wss' = 'ws'): Promise<string | undefined> {
    const header = req.headers.authorization;
    const date = req.headers['x-amz-date'];
    const match = typeof header === 'string' ? AUTHORIZATION.exec(header) : null;
    if (!match || typeof date !== 'string' || !/^\d{8}T\d{6}Z$/.test(date)) return undefined;
    const principal = this.principals.get(match[1]);
    if (!principal || (req.headers['x-amz-security-token'] ?? undefined) !== principal.sessionToken) return undefined;
    const signedAt = Date.UTC(
      +date.slice(0, 4),
      +date.slice(4, 6) - 1,
      +date.slice(6, 8),
      +date.slice(9, 11),
      +date.slice(11, 13),
      +date.slice(13, 15),
    );
    if (Math.abs(this.now() - signedAt) > MAX_SKEW_MS) return undefined;
    const url = `${scheme}://${req.headers.host}${req.url ?? '/'}`;
    let expected: string;
    try {
      expected = (await signConnect(url, principal, match[3], new Date(signedAt))).authorization;
    } catch {
      return undefined;
    }
    const a = Buffer.from(expected);
    const b = Buffer.from(header as string);
    return a.length === b.length && timingSafeEqual(a, b) ? principal.arn : undefined;
  }
}
