/**
 * The dashboard: sign-in with a token (kept by the control plane as an HttpOnly, SameSite=Strict
 * session cookie; the page keeps only the session's CSRF token, in memory), then Sites, VMs, Plans
 * and Executions, routed by the URL's hash so every view has an address and nothing reloads.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type Session, setCsrf } from './api.ts';
import { ExecutionPage, ExecutionsPage } from './pages/executions.tsx';
import { PlanPage, PlansPage } from './pages/plans.tsx';
import { SitesPage } from './pages/sites.tsx';
import { VmsPage } from './pages/vms.tsx';
import './style.css';

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/sites');
  useEffect(() => {
    const on = (): void => setHash(location.hash || '#/sites');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function SignIn({ onSession }: { onSession(session: Session): void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onSession(await api<Session>('/session', { method: 'POST', body: { token: token.trim() } }));
    } catch (cause) {
      setError(
        cause instanceof ApiError && cause.status === 401 ? 'That token is not valid.' : String(cause),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="signin" onSubmit={submit}>
      <h1>drorch</h1>
      <p>Sign in with an API token (`drctl token create`).</p>
      <label>
        Token
        <input
          name="token"
          type="password"
          autocomplete="off"
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
      </label>
      <button type="submit" disabled={busy || token.trim() === ''}>
        Sign in
      </button>
      {error && <p class="error">{error}</p>}
    </form>
  );
}

function Page({ hash, session }: { hash: string; session: Session }) {
  const [, section, name] = hash.slice(1).split('/').map(decodeURIComponent);
  switch (section) {
    case 'vms':
      return <VmsPage />;
    case 'plans':
      return name ? <PlanPage name={name} /> : <PlansPage />;
    case 'executions':
      return name ? <ExecutionPage id={name} session={session} /> : <ExecutionsPage />;
    default:
      return <SitesPage />;
  }
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const hash = useHash();
  useEffect(() => {
    api<Session>('/session').then(
      (s) => {
        setCsrf(s.csrf);
        setSession(s);
      },
      () => setSession(null),
    );
  }, []);
  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null)
    return (
      <SignIn
        onSession={(s) => {
          setCsrf(s.csrf);
          setSession(s);
        }}
      />
    );
  const signOut = async (): Promise<void> => {
    await api('/session', { method: 'DELETE' }).catch(() => undefined);
    setCsrf(undefined);
    setSession(null);
  };
  const tab = (href: string, label: string) => (
    <a href={href} class={hash.startsWith(href) ? 'active' : ''}>
      {label}
    </a>
  );
  return (
    <div class="shell">
      <header>
        <strong>drorch</strong>
        <nav>
          {tab('#/sites', 'Sites')}
          {tab('#/vms', 'VMs')}
          {tab('#/plans', 'Plans')}
          {tab('#/executions', 'Executions')}
        </nav>
        <span class="who" data-role={session.role}>
          {session.actor} · {session.role}
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        <Page hash={hash} session={session} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
