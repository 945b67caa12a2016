/**
 * A loopback server speaking the AWS JSON 1.1 protocol (ECS, Secrets Manager, KMS): `POST /` with
 * `X-Amz-Target: <prefix>.<Operation>`, a JSON body, a SigV4 signature. Errors are `{ __type, message }`,
 * which the SDK turns into exceptions of that name. Timestamps in outputs are epoch seconds.
 * https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { asAwsError, AwsError } from './errors';
import type { CredentialStore, Principal } from './principals';
import { authenticate } from './sigv4';

export type Operation = (input: Record<string, unknown>, principal: Principal) => Promise<unknown>;

export interface JsonService {
  /** `X-Amz-Target` prefix, e.g. `secretsmanager`, `TrentService`. */
  readonly targetPrefix: string;
  /** SigV4 service name in the credential scope, e.g. `secretsmanager`, `kms`, `ecs`. */
  readonly signingName: string;
  readonly operations: Readonly<Record<string, Operation>>;
}

export interface JsonServerOptions {
  readonly services: readonly JsonService[];
  readonly credentials: CredentialStore;
  /** Requests that are not JSON protocol calls (e.g. the ECS task metadata endpoint); 404 by default. */
  readonly other?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

const MAX_BODY_BYTES = 1024 * 1024;

export function createJsonServer(options: JsonServerOptions): Server {
  return createServer((req, res) => {
    if (options.other?.(req, res)) return;
    void handle(options, req, res);
  });
}

async function handle(options: JsonServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const body = await readBody(req, MAX_BODY_BYTES);
    const target = String(req.headers['x-amz-target'] ?? '');
    const dot = target.lastIndexOf('.');
    const service = options.services.find((s) => s.targetPrefix === target.slice(0, dot));
    const operation = service?.operations[target.slice(dot + 1)];
    if (req.method !== 'POST' || !service || !operation)
      throw new AwsError('UnknownOperationException', `Unknown operation ${target || '(none)'}.`);
    const principal = await authenticate(options.credentials, req, body, service.signingName);
    let input: unknown;
    try {
      input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      throw new AwsError('SerializationException', 'The request body is not valid JSON.');
    }
    if (!input || typeof input !== 'object' || Array.isArray(input))
      throw new AwsError('SerializationException', 'The request body must be a JSON object.');
    send(res, 200, (await operation(input as Record<string, unknown>, principal)) ?? {});
  } catch (error) {
    const e = asAwsError(error);
    res.setHeader('x-amzn-errortype', e.type);
    send(res, e.status, { __type: e.type, message: e.message });
  }
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new AwsError('RequestEntityTooLarge', 'The request body is too large.', 413));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Listens on an ephemeral loopback port; resolves with the endpoint URL. */
export async function listenLoopback(server: Server, port = 0): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes the server and every open connection (keep-alive sockets would hold `close` open). */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Epoch seconds, the JSON protocols' timestamp format. */
export const epochSeconds = (ms: number) => ms / 1000;

export function requireString(input: Record<string, unknown>, key: string, type = 'InvalidParameterException'): string {
  const value = input[key];
  if (typeof value !== 'string' || value.length === 0) throw new AwsError(type, `${key} is required.`);
  return value;
}

export function optionalString(
  input: Record<string, unknown>,
  key: string,
  type = 'InvalidParameterException',
): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new AwsError(type, `${key} must be a string.`);
  return value;
}
