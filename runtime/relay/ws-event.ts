/**
 * The API Gateway WebSocket events the relay handlers take (Lambda proxy integration), as API Gateway
 * sends them and as the local adapter (local/relay/) builds them. Only the fields the handlers read.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-mapping-template-reference.html
 */
export interface WsEvent {
  readonly requestContext: {
    readonly routeKey: string;
    readonly eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT';
    readonly connectionId: string;
    readonly requestId: string;
    readonly accountId?: string;
    /** IAM-authorized connects carry the caller: `userArn` names the task role's session. */
    readonly identity?: {
      readonly userArn?: string | null;
      readonly accountId?: string | null;
      readonly sourceIp?: string;
    };
  };
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly queryStringParameters?: Readonly<Record<string, string | undefined>> | null;
  readonly multiValueQueryStringParameters?: Readonly<Record<string, readonly string[] | undefined>> | null;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
}

/** For `$connect`, a non-2xx status refuses the WebSocket handshake with that status. */
export interface WsResult {
  readonly statusCode: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export const ok = (headers?: Record<string, string>): WsResult => ({
  statusCode: 200,
  ...(headers ? { headers } : {}),
});
export const refuse = (statusCode: number, message: string): WsResult => ({
  statusCode,
  headers: { 'content-type': 'application/json; charset=utf-8' },
  body: JSON.stringify({ message }),
});

/** The message text of a frame (API Gateway passes text frames as strings). */
export function frameText(event: WsEvent): string {
  const body = event.body ?? '';
  return event.isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
}

export function hasQueryString(event: WsEvent): boolean {
  const single = event.queryStringParameters ?? {};
  const multi = event.multiValueQueryStringParameters ?? {};
  return Object.keys(single).length > 0 || Object.keys(multi).length > 0;
}
