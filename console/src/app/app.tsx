/** Layout, navigation and routing; the sign-in page when signed out. */
import { useEffect } from 'preact/hooks';
import { useRoute, useStore } from './hooks';
import { AgentsPage } from './pages/agents';
import { ApprovalsPage } from './pages/approvals';
import { ConversationPage } from './pages/conversation';
import { CredentialsPage } from './pages/credentials';
import type { Store } from './store';

export function App({ store }: { store: Store }) {
  useStore(store);
  const session = store.session;
  useEffect(() => session.onChange(() => store.changed()), [store]);
  useEffect(() => {
    if (session.signedIn) store.startApprovals();
  }, [session.signedIn]);
  if (!session.signedIn) return <SignIn store={store} />;
  return <Shell store={store} />;
}

function SignIn({ store }: { store: Store }) {
  const problem = store.session.problem;
  return (
    <main class="centered">
      <div class="card narrow">
        <p class="brand-mark" aria-hidden="true">
          ▣
        </p>
        <h1>Cubicle</h1>
        <p class="muted">Your AI agents, each in its own isolated workspace.</p>
        {problem && (
          <p class="notice error" role="alert">
            {problem}
          </p>
        )}
        <button
          class="primary wide"
          type="button"
          onClick={() => void store.session.signIn().catch((e: Error) => store.fail(e))}
        >
          Sign in
        </button>
      </div>
    </main>
  );
}

function Shell({ store }: { store: Store }) {
  const route = useRoute();
  const [page, id] = route;
  const pending = store.approvals.length;
  const current = page === 'agents' || !page ? 'agents' : page;
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="#/">
          <span aria-hidden="true">▣</span> Cubicle
        </a>
        <nav aria-label="Main">
          <a href="#/" aria-current={current === 'agents' ? 'page' : undefined}>
            Agents
          </a>
          <a href="#/approvals" aria-current={current === 'approvals' ? 'page' : undefined}>
            Approvals
            {pending > 0 && (
              <span class="badge" aria-label={`${pending} pending`}>
                {pending}
              </span>
            )}
          </a>
          <a href="#/credentials" aria-current={current === 'credentials' ? 'page' : undefined}>
            Credentials
          </a>
        </nav>
        <div class="who">
          <span class="muted">{store.session.userName}</span>
          <button type="button" onClick={() => void store.session.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <div class="notices" aria-live="polite">
        {store.notices.map((n) => (
          <div key={n.id} class={`notice ${n.tone}`} role={n.tone === 'error' ? 'alert' : 'status'}>
            <span>{n.text}</span>
            <button type="button" class="link" aria-label="Dismiss" onClick={() => store.dismiss(n.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
      <main class="content">
        {page === 'agents' && id ? (
          <ConversationPage key={id} store={store} agentId={id} />
        ) : page === 'approvals' ? (
          <ApprovalsPage store={store} />
        ) : page === 'credentials' ? (
          <CredentialsPage store={store} />
        ) : !page || page === 'agents' ? (
          <AgentsPage store={store} />
        ) : (
          <NotFound what="page" />
        )}
      </main>
    </div>
  );
}

export function NotFound({ what }: { what: string }) {
  return (
    <section class="card empty">
      <h1>Not found</h1>
      <p>This {what} does not exist, or it is not yours.</p>
      <a href="#/">Back to your agents</a>
    </section>
  );
}
