/** My agents: status, provider, last activity, Wake / Sleep. */
import { useEffect, useState } from 'preact/hooks';
import type { AgentView } from '../../core/api';
import { relativeTime, statusText } from '../../core/describe';
import { useNow } from '../hooks';
import type { Store } from '../store';
import type { UsageView } from '../../../../runtime/shared/usage';
import { UsageCell, UsageSummary } from './usage';

export function AgentsPage({ store }: { store: Store }) {
  const [agents, setAgents] = useState<AgentView[] | undefined>();
  const [error, setError] = useState<string>();
  const [usage, setUsage] = useState<UsageView | undefined>();
  const now = useNow(30_000);
  const load = () =>
    Promise.all([
      store.api.agents().then(
        (list) => {
          setAgents(list);
          setError(undefined);
        },
        (e: unknown) => setError(store.describe(e)),
      ),
      // Usage is extra: without it the list still works.
      store.api.usage().then(setUsage, () => setUsage(undefined)),
    ]);
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), 15_000);
    return () => clearInterval(timer);
  }, []);

  return (
    <section>
      <h1>Your agents</h1>
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
      {usage && <UsageSummary usage={usage} />}
      {!agents && !error && <p class="muted">Loading your agents…</p>}
      {agents && agents.length === 0 && (
        <div class="card empty">
          <p>You have no agents yet.</p>
          <p class="muted">Ask your platform team to add one for you in the Cubicle roster.</p>
        </div>
      )}
      {agents && agents.length > 0 && (
        <table class="agents">
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">Status</th>
              <th scope="col">Provider</th>
              <th scope="col">Last activity</th>
              <th scope="col">This month</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {agents.map((agent) => (
              <tr key={agent.agentId}>
                <th scope="row">
                  <a href={`#/agents/${encodeURIComponent(agent.agentId)}`}>{agent.agentId}</a>
                </th>
                <td>
                  <StatusPill agent={agent} />
                </td>
                <td>{agent.provider}</td>
                <td>{relativeTime(agent.lastActivityAt ?? agent.startedAt, now)}</td>
                <td>
                  <UsageCell line={usage?.agents.find((a) => a.agentId === agent.agentId)} />
                </td>
                <td class="actions">
                  <WakeSleep
                    store={store}
                    agent={agent}
                    onDone={(a) => setAgents((list) => list?.map((x) => (x.agentId === a.agentId ? a : x)))}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function StatusPill({ agent }: { agent: Pick<AgentView, 'status' | 'wakePending' | 'stopReason'> }) {
  return (
    <span class={`pill ${agent.status.toLowerCase()}`} title={agent.stopReason}>
      {statusText(agent)}
    </span>
  );
}

/** Wake and Sleep for one agent; each answers with the agent's new state. */
export function WakeSleep({
  store,
  agent,
  onDone,
}: {
  store: Store;
  agent: AgentView;
  onDone: (agent: AgentView) => void;
}) {
  const [busy, setBusy] = useState(false);
  const awake = agent.status === 'RUNNING' || agent.status === 'STARTING';
  const act = async (what: 'wake' | 'sleep') => {
    setBusy(true);
    try {
      const result = await store.api[what](agent.agentId);
      onDone(result.agent);
      store.notify('ok', what === 'wake' ? `${agent.agentId} is waking up.` : `${agent.agentId} is going to sleep.`);
    } catch (error) {
      store.fail(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="button-row">
      <button type="button" disabled={busy || awake} onClick={() => void act('wake')}>
        Wake
      </button>
      <button
        type="button"
        disabled={busy || agent.status === 'STOPPED' || agent.status === 'FAILED'}
        onClick={() => void act('sleep')}
      >
        Sleep
      </button>
    </span>
  );
}
