/**
 * STS `AssumeRole` on loopback (AWS_ENDPOINT_URL_STS), for the one role anything here assumes: a
 * deployment's model invoker role, which Bedrock agents' supervisors assume for their CLI
 * (lib/constructs/bedrock-invoker.ts, runtime/agent/src/model-credentials.ts). As in AWS, only a Bedrock
 * agent's task may assume it (its trust and the task role's policy), and the session it gets may do
 * nothing any local stand-in serves: there is no Bedrock here, so the keys only travel to the CLI.
 *
 * STS speaks the AWS query protocol: a form-encoded POST with `Action`, an XML answer.
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { asAwsError, AwsError } from '../aws/errors';
import { readBody } from '../aws/json-server';
import { describePrincipal, type CredentialStore, type Principal } from '../aws/principals';
import { authenticate } from '../aws/sigv4';

/** STS's bounds for DurationSeconds; a role-chained session (a task role assuming another) ends within the hour. */
const MIN_SECONDS = 900;
const CHAINED_MAX_SECONDS = 3600;
const MAX_BODY_BYTES = 64 * 1024;

export interface StsOptions {
  readonly credentials: CredentialStore;
  /** The model invoker role's ARN, if the deployment has Bedrock agents. */
  readonly invokerRoleArn?: string;
  /** Whether this pair's agent uses Bedrock (only their task roles may assume the invoker). */
  readonly isBedrockAgent: (userId: string, agentId: string) => boolean;
  readonly now?: () => number;
}

/** Handles a request if it is an STS query call (for a JSON server's `other`); false leaves it to the server. */
export function stsHandler(options: StsOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const type = String(req.headers['content-type'] ?? '');
    if (
      req.method !== 'POST' ||
      req.headers['x-amz-target'] !== undefined ||
      !type.startsWith('application/x-www-form-urlencoded')
    )
      return false;
    void answer(options, req, res);
    return true;
  };
}

async function answer(options: StsOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = randomUUID();
  try {
    const body = await readBody(req, MAX_BODY_BYTES);
    const principal = await authenticate(options.credentials, req, body, 'sts');
    const form = new URLSearchParams(body.toString('utf8'));
    if (form.get('Action') !== 'AssumeRole')
      throw new AwsError(
        'InvalidAction',
        `Local mode's STS answers AssumeRole only, not ${form.get('Action') ?? '(none)'}.`,
      );
    const roleArn = form.get('RoleArn') ?? '';
    const sessionName = form.get('RoleSessionName') ?? '';
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName))
      throw new AwsError('ValidationError', 'RoleSessionName must be 2 to 64 of letters, digits and +=,.@-');
    const seconds = Number(form.get('DurationSeconds') ?? CHAINED_MAX_SECONDS);
    if (!Number.isInteger(seconds) || seconds < MIN_SECONDS || seconds > CHAINED_MAX_SECONDS) {
      throw new AwsError(
        'ValidationError',
        `DurationSeconds must be ${MIN_SECONDS} to ${CHAINED_MAX_SECONDS} for a role-chained session.`,
      );
    }
    if (
      !options.invokerRoleArn ||
      roleArn !== options.invokerRoleArn ||
      principal.kind !== 'agent' ||
      !options.isBedrockAgent(principal.userId, principal.agentId)
    ) {
      throw new AwsError(
        'AccessDenied',
        `User: ${describePrincipal(principal)} is not authorized to perform: sts:AssumeRole on resource: ${roleArn || '(none)'}`,
        403,
      );
    }
    const session: Principal = {
      kind: 'model',
      userId: principal.userId,
      agentId: principal.agentId,
      taskArn: principal.taskArn,
    };
    const keys = options.credentials.issue(session);
    const expiresAt = (options.now ?? Date.now)() + seconds * 1000;
    // The session token carries nothing: the local stand-ins know a caller by its access key.
    const sessionToken = Buffer.from(randomUUID()).toString('base64');
    send(
      res,
      200,
      `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>${keys.accessKeyId}</AccessKeyId><SecretAccessKey>${xml(keys.secretAccessKey)}</SecretAccessKey><SessionToken>${sessionToken}</SessionToken><Expiration>${new Date(expiresAt).toISOString()}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROALOCAL:${xml(sessionName)}</AssumedRoleId><Arn>${xml(assumedRoleArn(roleArn, sessionName))}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
    );
  } catch (error) {
    const e = asAwsError(error);
    send(
      res,
      e.status,
      `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${xml(e.type)}</Code><Message>${xml(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    );
  }
}

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/xml',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

/** `arn:aws:sts::<account>:assumed-role/<role name>/<session>` (the path is not part of it). */
function assumedRoleArn(roleArn: string, sessionName: string): string {
  const [, partition, , , account, resource] = roleArn.split(':');
  return `arn:${partition}:sts::${account}:assumed-role/${resource.split('/').pop()}/${sessionName}`;
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
