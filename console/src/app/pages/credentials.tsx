/**
 * Credentials: one form per provider and connection the user's agents use. The value is checked with the
 * runtime's own schema before it is sent, cleared after, and never shown again (the API never returns it).
 */
import { useEffect, useState } from 'preact/hooks';
import {
  credentialPayload,
  credentialTargets,
  KIND_LABELS,
  whoUsesIt,
  type CredentialTarget,
} from '../../core/credentials';
import type { Store } from '../store';

export function CredentialsPage({ store }: { store: Store }) {
  const [targets, setTargets] = useState<CredentialTarget[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    store.api.agents().then(
      (agents) => setTargets(credentialTargets(agents)),
      (e: unknown) => setError(store.describe(e)),
    );
  }, []);
  return (
    <section>
      <h1>Credentials</h1>
      <p class="muted">
        Your agents sign in to their providers and connections with credentials you store here. They are encrypted under
        your own key; nobody, not even Cubicle, shows them again. Storing one replaces the previous value; agents use it
        from their next start.
      </p>
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
      {!targets && !error && <p class="muted">Loading…</p>}
      {targets && targets.length === 0 && <p class="card empty">None of your agents needs a credential from you.</p>}
      <div class="grid">
        {targets?.map((t) => (
          <CredentialForm key={`${t.kind}:${t.name}`} store={store} target={t} />
        ))}
      </div>
    </section>
  );
}

function CredentialForm({ store, target }: { store: Store; target: CredentialTarget }) {
  const [kind, setKind] = useState(target.kinds[0]);
  const [value, setValue] = useState('');
  const [result, setResult] = useState<{ tone: 'ok' | 'error'; text: string }>();
  const [busy, setBusy] = useState(false);
  const id = `${target.kind}-${target.name}`;
  const multiline = kind === 'oauth-creds';
  const save = async (event: Event) => {
    event.preventDefault();
    let payload: string;
    try {
      payload = credentialPayload(target, kind, value);
    } catch (error) {
      setResult({ tone: 'error', text: (error as Error).message });
      return;
    }
    setBusy(true);
    try {
      if (target.kind === 'provider') await store.api.storeProviderCredential(target.name, payload);
      else await store.api.storeConnectionCredential(target.name, payload);
      setValue('');
      setResult({ tone: 'ok', text: `Saved. ${whoUsesIt(target.agents)} from the next start.` });
    } catch (error) {
      setResult({ tone: 'error', text: store.describe(error) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card credential" onSubmit={(e) => void save(e)} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>
        {target.name} <span class="tag">{target.kind}</span>
      </h2>
      <p class="muted small">Used by {target.agents.join(', ')}</p>
      {target.kinds.length > 1 && (
        <>
          <label for={`${id}-kind`}>Kind</label>
          <select id={`${id}-kind`} value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
            {target.kinds.map((k) => (
              <option key={k} value={k}>
                {KIND_LABELS[k] ?? k}
              </option>
            ))}
          </select>
        </>
      )}
      <label for={`${id}-value`}>
        {target.kind === 'provider'
          ? `${KIND_LABELS[kind ?? 'api-key'] ?? 'Credential'} for ${target.name}`
          : `Token for ${target.name}`}
      </label>
      {multiline ? (
        <textarea
          id={`${id}-value`}
          class="secret"
          rows={4}
          value={value}
          spellcheck={false}
          autocomplete="off"
          onInput={(e) => setValue((e.target as HTMLTextAreaElement).value)}
        />
      ) : (
        <input
          id={`${id}-value`}
          type="password"
          value={value}
          spellcheck={false}
          autocomplete="off"
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
        />
      )}
      <div class="button-row">
        <button type="submit" class="primary" disabled={busy || value === ''}>
          Save
        </button>
      </div>
      {result && (
        <p class={`notice ${result.tone}`} role={result.tone === 'error' ? 'alert' : 'status'}>
          {result.text}
        </p>
      )}
    </form>
  );
}
