/**
 * Lambda's Invoke API on loopback (AWS_ENDPOINT_URL_LAMBDA), for the one function other functions invoke:
 * the launcher (runtime/control-plane/aws/launcher-invoker.ts calls it asynchronously with `Event`). The
 * caller's signature is verified and its permission checked (local/aws/policy.ts, as bindLaunchInvoker
 * grants `lambda:InvokeFunction` on the launcher only); the invocation runs in the function's own host
 * process after the 202, as Lambda queues an asynchronous invocation.
 * https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AwsError } from '../aws/errors';
import { readBody } from '../aws/json-server';
import type { Authorizer } from '../aws/policy';
import { describePrincipal, type CredentialStore, type FunctionName } from '../aws/principals';
import { authenticate } from '../aws/sigv4';

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
/** Lambda's limit for an asynchronous invocation's payload. */
const MAX_EVENT_BYTES = 256 * 1024;

export interface LambdaStandInOptions {
  readonly credentials: CredentialStore;
  readonly authorizer: Authorizer;
  /** The physical function names the stack's environment variables carry, by local function. */
  readonly functions: Readonly<Partial<Record<FunctionName, string>>>;
  /** Runs an invocation in the function's host; failures are reported, as Lambda's async retries would. */
  readonly invoke: (fn: FunctionName, event: unknown) => Promise<unknown>;
  readonly log: (message: string, fields?: Record<string, unknown>) => void;
}

export function createLambdaServer(options: LambdaStandInOptions): Server {
  const byName = new Map(Object.entries(options.functions).map(([fn, name]) => [name as string, fn as FunctionName]));
  return createServer((req, res) => void handle(options, byName, req, res));
}

async function handle(
  options: LambdaStandInOptions,
  byName: ReadonlyMap<string, FunctionName>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const body = await readBody(req, MAX_EVENT_BYTES);
    const match = INVOKE_PATH.exec(new URL(req.url ?? '/', 'http://local').pathname);
    if (req.method !== 'POST' || !match)
      throw new AwsError('UnknownOperationException', 'Only Invoke is served locally.', 404);
    const principal = await authenticate(options.credentials, req, body, 'lambda');
    const name = decodeURIComponent(match[1]);
    const fn = byName.get(name);
    if (!fn || !options.authorizer.invoke(principal, fn)) {
      throw new AwsError(
        'AccessDeniedException',
        `${describePrincipal(principal)} is not authorized to perform: lambda:InvokeFunction on ${name}`,
        403,
      );
    }
    if (req.headers['x-amz-invocation-type'] !== 'Event')
      throw new AwsError('InvalidParameterValueException', 'Local mode invokes functions asynchronously (Event) only.');
    let event: unknown;
    try {
      event = JSON.parse(body.toString('utf8') || '{}');
    } catch {
      throw new AwsError('InvalidRequestContentException', 'Could not parse request body into json.');
    }
    res.writeHead(202, { 'x-amzn-requestid': randomUUID(), 'content-length': 0 });
    res.end();
    options
      .invoke(fn, event)
      .catch((error: Error) => options.log('asynchronous invocation failed', { function: fn, error: error.message }));
  } catch (error) {
    const e =
      error instanceof AwsError
        ? error
        : new AwsError('ServiceException', 'The local stand-in failed to process the request.', 500);
    const text = JSON.stringify({ Type: 'User', message: e.message });
    res.writeHead(e.status, {
      'content-type': 'application/json',
      'x-amzn-errortype': e.type,
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }
}
