/** Pending approvals: tool, hosts, summary, time left; Approve / Deny; notifications. */
import { useState } from 'preact/hooks';
import { ApiError, type ApprovalView } from '../../core/api';
import { timeLeft } from '../../core/describe';
import { useNow, useStore } from '../hooks';
import type { Store } from '../store';

export function ApprovalsPage({ store }: { store: Store }) {
  useStore(store);
  return (
    <div>
      <h1>Approvals</h1>
      <p class="muted">
        Your agents ask before anything they do reaches the outside world. Requests expire after a few minutes.
      </p>
      <NotificationsToggle />
      <PendingApprovals store={store} approvals={store.approvals} showEmpty />
    </div>
  );
}

function NotificationsToggle() {
  const supported = typeof Notification !== 'undefined';
  const [permission, setPermission] = useState(supported ? Notification.permission : 'denied');
  if (!supported || permission === 'granted') return null;
  if (permission === 'denied')
    return (
      <p class="muted small">
        Browser notifications are blocked for this site; the badge on Approvals still shows new requests.
      </p>
    );
  return (
    <p>
      <button type="button" onClick={() => void Notification.requestPermission().then(setPermission)}>
        Turn on notifications
      </button>
    </p>
  );
}

/** The region automation looks for: named "Pending approvals". */
export function PendingApprovals({
  store,
  approvals,
  showEmpty,
}: {
  store: Store;
  approvals: readonly ApprovalView[];
  showEmpty?: boolean;
}) {
  const now = useNow(1_000);
  if (approvals.length === 0 && !showEmpty) return null;
  return (
    <section class="approvals" aria-labelledby="pending-approvals">
      <h2 id="pending-approvals">Pending approvals</h2>
      {store.approvalsError && (
        <p class="notice error" role="alert">
          {store.approvalsError}
        </p>
      )}
      {approvals.length === 0 ? (
        <p class="card empty muted">Nothing is waiting for you.</p>
      ) : (
        <ul class="approval-list">
          {approvals.map((a) => (
            <ApprovalItem key={a.approvalId} store={store} approval={a} now={now} />
          ))}
        </ul>
      )}
    </section>
  );
}

function ApprovalItem({ store, approval, now }: { store: Store; approval: ApprovalView; now: number }) {
  const [busy, setBusy] = useState(false);
  const left = timeLeft(approval.expiresAt, now);
  const decide = async (decision: 'approve' | 'deny') => {
    setBusy(true);
    try {
      await store.api.decide(approval.approvalId, approval.agentId, decision);
      store.removeApproval(approval.approvalId);
      store.notify(
        'ok',
        decision === 'approve'
          ? `Approved: ${approval.agentId} goes ahead.`
          : `Denied: ${approval.agentId} will not make the call.`,
      );
    } catch (error) {
      if (error instanceof ApiError && (error.status === 409 || error.status === 404))
        store.removeApproval(approval.approvalId);
      store.fail(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <li class="card approval" aria-label={`${approval.agentId}: ${approval.tool}`}>
      <div class="approval-head">
        <strong>
          <a href={`#/agents/${encodeURIComponent(approval.agentId)}`}>{approval.agentId}</a> wants to use{' '}
          {approval.tool}
        </strong>
        <span class={`time-left ${left === 'expired' ? 'expired' : ''}`}>{left}</span>
      </div>
      {approval.hosts.length > 0 && (
        <p class="hosts">
          {approval.hosts.map((h) => (
            <span key={h} class="host">
              {h}
            </span>
          ))}
        </p>
      )}
      <pre class="summary">{approval.summary}</pre>
      <div class="button-row">
        <button
          type="button"
          class="primary"
          disabled={busy || left === 'expired'}
          onClick={() => void decide('approve')}
        >
          Approve
        </button>
        <button type="button" class="danger" disabled={busy || left === 'expired'} onClick={() => void decide('deny')}>
          Deny
        </button>
      </div>
    </li>
  );
}
