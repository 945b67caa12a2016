/**
 * The device side of the relay (the API Gateway WebSocket API behind CloudFront at /v1/relay).
 *
 * `$connect`: the bearer JWT travels as the subprotocol `bearer.<JWT>` next to `cubicle.v1` and is
 * verified by the same code as the HTTP API's (runtime/control-plane/auth); the answer selects
 * `cubicle.v1`. A URL with a query string is refused before anything else: tokens never go in URLs,
 * which reach access logs. `$default`: subscribe / unsubscribe / ping, validated and rate-limited per
 * connection; a bad frame gets an error frame, never a disconnect.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { headerValue, type Authenticator } from '../control-plane/auth';
import { describeIssue } from '../control-plane/http';
import { agentOf } from '../control-plane/roster';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  DEVICE_FRAME,
  DEVICE_SUBPROTOCOL,
  MAX_DEVICE_FRAME_BYTES,
  REPLAY_LIMIT,
  type DeviceMessage,
} from '../shared/relay-protocol';
import {
  countFrame,
  forgetConnection,
  getConnection,
  putConnection,
  subscribe,
  unsubscribe,
  type DeviceConnection,
} from './connections';
import { deliver, type DeliveryDeps } from './delivery';
import { frameText, hasQueryString, ok, refuse, type WsEvent, type WsResult } from './ws-event';

export interface DeviceDeps extends DeliveryDeps {
  readonly auth: Authenticator;
  readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** The frames a connection may send per window (rate limit). */
  readonly rateLimit?: { readonly frames: number; readonly windowMs: number };
}

export const DEFAULT_DEVICE_RATE = { frames: 60, windowMs: 60_000 };
export const TOKEN_EXPIRED = 'Your sign-in has expired: reconnect with a new token.';
/** Same answer for another user's agent and an agent that does not exist. */
export const NO_SUCH_AGENT = 'No such agent.';

export function createDeviceHandler(deps: DeviceDeps): (event: WsEvent) => Promise<WsResult> {
  return async (event) => {
    const { routeKey, connectionId } = event.requestContext;
    try {
      if (routeKey === '$connect') return await connect(deps, event);
      if (routeKey === '$disconnect') {
        await forgetConnection(deps, await getConnection(deps, connectionId), connectionId);
        return ok();
      }
      return await message(deps, event);
    } catch (error) {
      deps.log.error('relay device request failed', {
        route: routeKey,
        request_id: event.requestContext.requestId,
        error: error as Error,
      });
      if (routeKey === '$connect') return refuse(500, 'The relay could not accept the connection.');
      await deps.devices
        .post(connectionId, {
          type: 'error',
          message: 'Something went wrong on our side; try again.',
        } satisfies DeviceMessage)
        .catch(() => undefined);
      return ok();
    }
  };
}

/** The token offered as `bearer.<JWT>` beside `cubicle.v1`, or why the offer is refused. */
export function offeredToken(headers: WsEvent['headers']): { token: string } | { refused: string } {
  const offered = (headerValue(headers, 'sec-websocket-protocol') ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (!offered.includes(DEVICE_SUBPROTOCOL)) return { refused: `offer the subprotocol ${DEVICE_SUBPROTOCOL}` };
  const bearers = offered.filter((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX));
  if (bearers.length !== 1) return { refused: `offer exactly one ${BEARER_SUBPROTOCOL_PREFIX}<JWT> subprotocol` };
  return { token: bearers[0].slice(BEARER_SUBPROTOCOL_PREFIX.length) };
}

async function connect(deps: DeviceDeps, event: WsEvent): Promise<WsResult> {
  const { connectionId, requestId } = event.requestContext;
  if (hasQueryString(event)) {
    deps.log.warn('relay connect refused: query string', { request_id: requestId });
    return refuse(400, 'The relay URL takes no query string: offer the token as the bearer.<JWT> subprotocol.');
  }
  const offer = offeredToken(event.headers);
  if ('refused' in offer) return refuse(401, `Sign in again (${offer.refused}).`);
  const identity = await deps.auth.authenticate(offer.token);
  if (!identity.ok) {
    deps.log.warn('relay connect refused: token', { request_id: requestId, reason: identity.reason });
    return refuse(401, 'Sign in again: the relay needs a valid Cubicle token of a roster user.');
  }
  await putConnection(deps, {
    kind: 'device',
    connectionId,
    userId: identity.user.id,
    ...(identity.expiresAt !== undefined ? { tokenExpiresAt: identity.expiresAt } : {}),
  });
  deps.log.info('relay device connected', { request_id: requestId, user_id: identity.user.id });
  return ok({ 'Sec-WebSocket-Protocol': DEVICE_SUBPROTOCOL });
}

async function message(deps: DeviceDeps, event: WsEvent): Promise<WsResult> {
  const { connectionId } = event.requestContext;
  const reply = (m: DeviceMessage) => deps.devices.post(connectionId, m);
  const connection = await getConnection(deps, connectionId);
  if (connection?.kind !== 'device') {
    await deps.devices.close(connectionId);
    return ok();
  }
  if (connection.tokenExpiresAt !== undefined && deps.now() >= connection.tokenExpiresAt) {
    // A connection lives no longer than the token it was opened with.
    await reply({ type: 'error', message: TOKEN_EXPIRED });
    await deps.devices.close(connectionId);
    return ok();
  }
  const rate = deps.rateLimit ?? DEFAULT_DEVICE_RATE;
  if (!(await countFrame(deps, connectionId, rate.frames, rate.windowMs))) {
    await reply({
      type: 'error',
      message: `Too many frames: at most ${rate.frames} per ${rate.windowMs / 1000} s. This one was dropped.`,
    });
    return ok();
  }
  const text = frameText(event);
  if (Buffer.byteLength(text, 'utf8') > MAX_DEVICE_FRAME_BYTES) {
    await reply({ type: 'error', message: `Frames are at most ${MAX_DEVICE_FRAME_BYTES} bytes.` });
    return ok();
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    await reply({ type: 'error', message: 'A frame must be one JSON object.' });
    return ok();
  }
  const parsed = DEVICE_FRAME.safeParse(value);
  if (!parsed.success) {
    await reply({ type: 'error', message: `Invalid frame: ${parsed.error.issues.map(describeIssue).join('; ')}` });
    return ok();
  }
  const frame = parsed.data;
  if (frame.type === 'ping') {
    await reply({ type: 'pong' });
    return ok();
  }
  const user = deps.auth.roster.user(connection.userId);
  if (!user || !agentOf(user, frame.agentId)) {
    await reply({ type: 'error', message: NO_SUCH_AGENT });
    return ok();
  }
  if (frame.type === 'unsubscribe') {
    await unsubscribe(deps, connection as DeviceConnection, frame.agentId);
    await reply({ type: 'unsubscribed', agentId: frame.agentId });
    return ok();
  }
  const sub = await subscribe(deps, connection as DeviceConnection, frame.agentId, frame.after ?? 0);
  const replay = await deliver(deps, sub, { limit: REPLAY_LIMIT });
  if (!replay.gone)
    await reply({ type: 'subscribed', agentId: frame.agentId, cursor: replay.cursor, more: replay.more });
  return ok();
}
