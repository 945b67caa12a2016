/**
 * One agent: its conversation (history paged forward from the first cursor, then live over the relay,
 * with an HTTP catch-up while the relay is down; every event once, in seq order), the composer, its
 * pending approvals, and its recent problems in plain language with the request id to quote.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type AgentEvent, type AgentView } from '../../core/api';
import { describeEvent, relativeTime } from '../../core/describe';
import { NotFound } from '../app';
import { useNow, useStore } from '../hooks';
import type { Store } from '../store';
import { StatusPill, WakeSleep } from './agents';
import { PendingApprovals } from './approvals';

const CATCH_UP_MS = 5_000;

export function ConversationPage({ store, agentId }: { store: Store; agentId: string }) {
  useStore(store);
  const [agent, setAgent] = useState<AgentView>();
  const [missing, setMissing] = useState(false);
  const [events, setEvents] = useState<AgentEvent[]>([]);
  const [loading, setLoading] = useState(true);
  const cursor = useRef(0);
  const now = useNow(30_000);

  const accept = (batch: readonly AgentEvent[]) => {
    const fresh = [...batch].filter((e) => e.seq > cursor.current).sort((a, b) => a.seq - b.seq);
    const inOrder: AgentEvent[] = [];
    for (const e of fresh) {
      if (e.seq <= cursor.current) continue;
      cursor.current = e.seq;
      inOrder.push(e);
    }
    if (inOrder.length > 0) setEvents((prev) => [...prev, ...inOrder]);
  };

  useEffect(() => {
    let stopped = false;
    const refreshAgent = () =>
      store.api.agent(agentId).then(setAgent, (error: unknown) => {
        if (error instanceof ApiError && error.status === 404) setMissing(true);
        else store.fail(error);
      });
    void (async () => {
      await refreshAgent();
      try {
        for await (const page of store.api.eventsFrom(agentId, 0)) {
          if (stopped) return;
          accept(page);
        }
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) store.fail(error);
        return;
      } finally {
        setLoading(false);
      }
      if (stopped) return;
      store.relay.subscribe(agentId, cursor.current);
    })();
    const off = store.onAgentEvent(agentId, (event) => {
      accept([event]);
      if (event.type.startsWith('lifecycle.') || event.type.startsWith('session.')) void refreshAgent();
    });
    // While the relay is down, catch up over HTTP from the same cursor; duplicates are dropped by seq.
    const catchUp = setInterval(() => {
      if (store.relayState === 'open' || stopped) return;
      void store.api.events(agentId, cursor.current).then(
        (page) => accept(page.events),
        () => undefined,
      );
    }, CATCH_UP_MS);
    const status = setInterval(() => void refreshAgent(), 15_000);
    return () => {
      stopped = true;
      off();
      store.relay.unsubscribe(agentId);
      clearInterval(catchUp);
      clearInterval(status);
    };
  }, [agentId]);

  if (missing) return <NotFound what="agent" />;
  const problems = events
    .filter((e) => describeEvent(e).kind === 'problem')
    .slice(-5)
    .reverse();
  const live = store.relayState === 'open';
  return (
    <div class="conversation-page">
      <div class="page-head">
        <div>
          <p class="crumbs">
            <a href="#/">Agents</a> /
          </p>
          <h1>{agentId}</h1>
          {agent && (
            <p class="meta">
              <StatusPill agent={agent} /> <span>{agent.provider}</span>{' '}
              <span class="muted">last activity {relativeTime(agent.lastActivityAt ?? agent.startedAt, now)}</span>
            </p>
          )}
        </div>
        <div class="head-actions">
          <span class={`live ${live ? 'on' : 'off'}`} role="status">
            {live ? 'Live' : 'Reconnecting…'}
          </span>
          {agent && <WakeSleep store={store} agent={agent} onDone={setAgent} />}
        </div>
      </div>
      <PendingApprovals store={store} approvals={store.approvals.filter((a) => a.agentId === agentId)} />
      <div class="columns">
        <section class="chat card" aria-label="Conversation">
          <Timeline store={store} agentId={agentId} events={events} loading={loading} />
          <Composer store={store} agentId={agentId} />
        </section>
        <aside class="side">
          <h2>Recent problems</h2>
          {agent?.status === 'FAILED' && (
            <p class="problem">
              The agent failed to start{agent.stopReason ? `: ${agent.stopReason}` : ''}. Wake it to try again.
            </p>
          )}
          {problems.length === 0 && agent?.status !== 'FAILED' ? (
            <p class="muted small">
              None. Failures show here in plain words, with a request id to quote to your platform team.
            </p>
          ) : (
            <ul class="problems">
              {problems.map((e) => (
                <li key={e.seq}>
                  <p>{describeEvent(e).text}</p>
                  <p class="muted small">
                    {new Date(e.at).toLocaleString()} · request id <code>{e.requestId}</code>
                  </p>
                </li>
              ))}
            </ul>
          )}
        </aside>
      </div>
    </div>
  );
}

function Timeline({
  store,
  agentId,
  events,
  loading,
}: {
  store: Store;
  agentId: string;
  events: AgentEvent[];
  loading: boolean;
}) {
  const list = useRef<HTMLOListElement>(null);
  const sent = store.sent.get(agentId) ?? [];
  const shown = new Set<string>();
  const items: preact.JSX.Element[] = [];
  for (const e of events) {
    const mine = e.type === 'message.started' ? sent.find((m) => m.messageId === e.messageId) : undefined;
    if (mine && !shown.has(mine.messageId)) {
      shown.add(mine.messageId);
      items.push(<You key={`m-${mine.messageId}`} text={mine.text} />);
    }
    const d = describeEvent(e);
    items.push(
      <li key={e.seq} class={`item k-${d.kind}`}>
        {d.kind === 'reply' ? <div class="bubble agent">{d.text}</div> : <p>{d.text}</p>}
        {d.kind === 'problem' && (
          <p class="muted small">
            request id <code>{d.requestId}</code>
          </p>
        )}
      </li>,
    );
  }
  for (const m of sent) {
    if (!shown.has(m.messageId)) items.push(<You key={`m-${m.messageId}`} text={m.text} queued />);
  }
  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [items.length]);
  return (
    <ol class="timeline" role="log" aria-label="Messages and activity" ref={list}>
      {loading && (
        <li class="item k-status">
          <p>Loading the conversation…</p>
        </li>
      )}
      {!loading && items.length === 0 && (
        <li class="item k-status empty-chat">
          <p>No messages yet. Say hello: the agent wakes up when you send something.</p>
        </li>
      )}
      {items}
    </ol>
  );
}

function You({ text, queued }: { text: string; queued?: boolean }) {
  return (
    <li class="item you">
      <div class="bubble you">{text}</div>
      {queued && <p class="muted small right">Delivered; waiting for the agent…</p>}
    </li>
  );
}

function Composer({ store, agentId }: { store: Store; agentId: string }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const send = async (event?: Event) => {
    event?.preventDefault();
    const message = text.trim();
    if (!message || busy) return;
    setBusy(true);
    try {
      const result = await store.api.send(agentId, message);
      store.sent.set(agentId, [
        ...(store.sent.get(agentId) ?? []),
        { messageId: result.messageId, text: message, at: new Date().toISOString() },
      ]);
      setText('');
      if (result.outcome === 'started') store.notify('ok', `${agentId} is waking up to answer.`);
      store.changed();
    } catch (error) {
      store.fail(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="composer" onSubmit={(e) => void send(e)}>
      <label for="message">Message</label>
      <textarea
        id="message"
        rows={3}
        value={text}
        placeholder={`Write to ${agentId}… (Enter sends, Shift+Enter for a new line)`}
        onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) void send(e);
        }}
      />
      <button type="submit" class="primary" disabled={busy || text.trim() === ''}>
        Send
      </button>
    </form>
  );
}
