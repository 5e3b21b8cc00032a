// The dashboard's shell: navigation, the hash router, the token form and the live-stream indicator.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { authEvents, currentUser, token } from './api.js';
import { onLiveState, restartLive } from './live.js';
import { html } from './ui.js';
import { OverviewPage } from './overview.js';
import { JobsPage } from './jobs.js';
import { JobPage } from './job.js';
import { BatchesPage, BatchPage } from './batches.js';
import { FailedPage } from './failed.js';

const NAV = [
  { href: '#/', label: 'Overview', match: (p) => p === '/' },
  { href: '#/jobs', label: 'Jobs', match: (p) => p.startsWith('/jobs') },
  { href: '#/batches', label: 'Batches', match: (p) => p.startsWith('/batches') },
  { href: '#/failed', label: 'Failed jobs', match: (p) => p.startsWith('/failed') },
];

/** `#/jobs/job_1?status=failed` → {path: '/jobs/job_1', params: URLSearchParams}. */
function parseHash() {
  const raw = decodeURI(location.hash.replace(/^#/, '')) || '/';
  const [path, search = ''] = raw.split('?');
  return { path: path || '/', params: new URLSearchParams(search) };
}

function route({ path, params }) {
  let m;
  if (path === '/') return html`<${OverviewPage} />`;
  if (path === '/jobs') return html`<${JobsPage} key=${params.toString()} params=${params} />`;
  if ((m = /^\/jobs\/([^/]+)$/.exec(path))) return html`<${JobPage} jobId=${m[1]} />`;
  if (path === '/batches') return html`<${BatchesPage} />`;
  if ((m = /^\/batches\/([^/]+)$/.exec(path))) return html`<${BatchPage} batchId=${m[1]} />`;
  if (path === '/failed') return html`<${FailedPage} key=${params.toString()} params=${params} />`;
  return html`<h1 tabindex="-1">Not found</h1>
    <p>No page at <code>${path}</code>. <a href="#/">Overview</a></p>`;
}

function TokenForm({ onDone, rejected }) {
  const [value, setValue] = useState('');
  const submit = (event) => {
    event.preventDefault();
    if (!value.trim()) return;
    token.set(value.trim());
    setValue('');
    onDone();
  };
  return html`<section class="token-panel" aria-labelledby="token-title">
    <h2 id="token-title">Sign in with an API token</h2>
    <p>
      ${rejected ? 'The API refused the token (expired or invalid). ' : 'This engine needs a token (JWT_SECRET is set). '} Paste a
      JWT (<code>npm run token -- --user alice</code>); it is kept in this tab only (session storage).
    </p>
    <form onSubmit=${submit}>
      <label for="token-input">API token</label>
      <input
        id="token-input"
        type="password"
        autocomplete="off"
        value=${value}
        onInput=${(e) => setValue(e.currentTarget.value)}
      />
      <button type="submit">Use token</button>
    </form>
  </section>`;
}

function LiveIndicator() {
  const [state, setState] = useState('connecting');
  useEffect(() => onLiveState(setState), []);
  const text = { live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', unauthorized: 'Not signed in' }[state];
  return html`<span class=${`live live-${state}`} role="status" aria-label=${`Live updates: ${text}`}>${text}</span>`;
}

function App() {
  const [location_, setLocation] = useState(parseHash);
  const [needsToken, setNeedsToken] = useState(false);
  const [session, setSession] = useState(0);
  useEffect(() => {
    const onHash = () => setLocation(parseHash());
    window.addEventListener('hashchange', onHash);
    const onUnauthorized = () => setNeedsToken(true);
    authEvents.addEventListener('unauthorized', onUnauthorized);
    const stopLive = onLiveState((state) => state === 'unauthorized' && setNeedsToken(true));
    return () => {
      window.removeEventListener('hashchange', onHash);
      authEvents.removeEventListener('unauthorized', onUnauthorized);
      stopLive();
    };
  }, []);
  // Each page change moves the focus to its heading, so keyboard and screen-reader users start there.
  useEffect(() => {
    document.querySelector('main h1')?.focus();
  }, [location_.path, session]);
  const signedIn = () => {
    setNeedsToken(false);
    setSession((n) => n + 1);
    restartLive();
  };
  const signOut = () => {
    token.clear();
    setSession((n) => n + 1);
    restartLive();
  };
  const user = currentUser();
  return html` <a class="skip" href="#main" onClick=${(e) => (e.preventDefault(), document.getElementById('main')?.focus())}
      >Skip to content</a
    >
    <header class="top">
      <span class="brand">Job engine</span>
      <nav aria-label="Main">
        <ul>
          ${NAV.map(
            (item) =>
              html`<li>
                <a href=${item.href} aria-current=${item.match(location_.path) ? 'page' : undefined}>${item.label}</a>
              </li>`,
          )}
        </ul>
      </nav>
      <span class="spacer"></span>
      <${LiveIndicator} />
      <span class="user">${user.anonymous ? 'no token' : `${user.id} (${user.role})`}</span>
      ${user.anonymous ? null : html`<button type="button" class="link" onClick=${signOut}>Forget token</button>`}
    </header>
    <main id="main" tabindex="-1">
      ${needsToken ? html`<${TokenForm} onDone=${signedIn} rejected=${!user.anonymous} />` : null}
      <div key=${session}>${needsToken ? null : route(location_)}</div>
    </main>`;
}

render(html`<${App} />`, document.getElementById('app'));
restartLive();
