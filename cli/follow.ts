/**
 * An agent's events after a cursor, live: over the relay (the shared client: resumes after a drop, each
 * event once and in order), with an HTTP catch-up every second while the relay is not connected.
 */
import WebSocket from 'ws';
import { relayUrl } from '../console/settings';
import type { AgentEvent, ApiClient } from '../console/src/core/api';
import { RelayClient, type SocketLike } from '../console/src/core/relay';
import type { Connection } from './session';

export interface Follow {
  /** Resolves when `stop` is called. */
  readonly done: Promise<void>;
  stop(): void;
}

export function follow(
  conn: Connection,
  api: ApiClient,
  agentId: string,
  after: number,
  onEvent: (event: AgentEvent) => void,
  onNote: (line: string) => void = () => undefined,
): Follow {
  let cursor = after;
  const accept = (events: readonly AgentEvent[]) => {
    for (const event of [...events].sort((a, b) => a.seq - b.seq)) {
      if (event.seq !== cursor + 1) continue;
      cursor = event.seq;
      onEvent(event);
    }
  };
  const relay = new RelayClient({
    url: relayUrl(conn.settings, conn.origin),
    token: () => conn.token(),
    connect: (url, protocols) => new WebSocket(url, protocols) as unknown as SocketLike,
    fill: async (id, from) => (await api.events(id, from)).events,
    onEvent: (_id, event) => accept([event]),
    onError: onNote,
  });
  let polling = false;
  const timer = setInterval(() => {
    if (relay.state === 'open' || polling) return;
    polling = true;
    api
      .events(agentId, cursor)
      .then(
        (page) => accept(page.events),
        () => undefined,
      )
      .finally(() => {
        polling = false;
      });
  }, 1_000);
  relay.subscribe(agentId, after);
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  return {
    done,
    stop() {
      clearInterval(timer);
      relay.close();
      resolveDone();
    },
  };
}
