// The Strata dashboard: one page, hash routes (#/overview, #/browse?path=/x …), no build step.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, getToken, html, setToken } from './lib.js';
import { Browse } from './pages/browse.js';
import { Charts } from './pages/charts.js';
import { Jobs } from './pages/jobs.js';
import { Mounts } from './pages/mounts.js';
import { Overview } from './pages/overview.js';
import { Workers } from './pages/workers.js';

const PAGES = [
  ['overview', 'Overview', Overview],
  ['workers', 'Workers', Workers],
  ['mounts', 'Mounts', Mounts],
  ['browse', 'Browse', Browse],
  ['jobs', 'Jobs', Jobs],
  ['charts', 'Charts', Charts],
];

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [name, query = ''] = raw.split('?');
  return { name: name || 'overview', params: new URLSearchParams(query) };
}

function TokenBox() {
  const [session, setSession] = useState(undefined);
  const [draft, setDraft] = useState('');
  const check = () => api('session').then(setSession, () => setSession(undefined));
  useEffect(() => {
    check();
  }, []);
  const save = (e) => {
    e.preventDefault();
    setToken(draft.trim());
    setDraft('');
    check();
  };
  const forget = () => {
    setToken('');
    check();
  };
  if (session && !session.tokenRequired)
    return html`<span class="token muted">no token needed (--insecure)</span>`;
  const ok = session?.authenticated && getToken() !== '';
  return html`<form class="token" onSubmit=${save} data-testid="token-form">
    <span class=${ok ? 'ok' : 'muted'} data-testid="token-state">${ok ? 'token set: actions allowed' : 'read-only: paste the token for actions'}</span>
    <input type="password" placeholder="cluster token" autocomplete="off" value=${draft}
      onInput=${(e) => setDraft(e.currentTarget.value)} data-testid="token-input" />
    <button type="submit">Use</button>
    ${getToken() !== '' ? html`<button type="button" onClick=${forget}>Forget</button>` : null}
  </form>`;
}

function App() {
  const [route, setRoute] = useState(parseHash());
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const page = PAGES.find((p) => p[0] === route.name) ?? PAGES[0];
  const Page = page[2];
  return html`<header>
      <a class="brand" href="#/overview">Strata</a>
      <nav>
        ${PAGES.map(
          ([name, title]) =>
            html`<a href=${`#/${name}`} class=${name === page[0] ? 'active' : ''} data-testid=${`nav-${name}`}>${title}</a>`,
        )}
      </nav>
      <${TokenBox} />
    </header>
    <main data-testid=${`page-${page[0]}`}>
      <h1>${page[1]}</h1>
      <${Page} params=${route.params} />
    </main>`;
}

render(html`<${App} />`, document.getElementById('root'));
