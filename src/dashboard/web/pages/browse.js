import { useState } from 'preact/hooks';
import { api, Bar, bytes, duration, ErrorLine, html, Loading, usePoll } from '../lib.js';

function crumbs(path) {
  const parts = path.split('/').filter((p) => p !== '');
  const out = [['/', '/']];
  for (let i = 0; i < parts.length; i++) out.push([parts[i], `/${parts.slice(0, i + 1).join('/')}`]);
  return out;
}

const link = (path) => `#/browse?path=${encodeURIComponent(path)}`;

function Row({ e, act, busy }) {
  const ttl = e.ttlMs === undefined ? '—' : `${duration(e.ttlMs)} (${e.ttlAction ?? 'free'})`;
  return html`<tr data-testid="entry" data-path=${e.path}>
    <td>${e.type === 'directory' ? html`<a href=${link(e.path)}>${e.name}/</a>` : e.name}</td>
    <td>${e.type === 'file' ? bytes(e.size) : ''}</td>
    <td data-testid="cached">${e.type === 'file' ? html`<${Bar} value=${e.cachedPercent} />` : ''}</td>
    <td data-testid="pinned">${e.pinned ? 'pinned' : ''}</td>
    <td>${ttl}</td>
    <td class="mono">${e.owners.join(', ')}</td>
    <td class="actions">
      ${['load', 'free', e.pinned ? 'unpin' : 'pin'].map(
        (a) =>
          html`<button disabled=${busy} onClick=${() => act(a, e.path)} data-testid=${`action-${a}`}>${a}</button>`,
      )}
    </td>
  </tr>`;
}

export function Browse({ params }) {
  const path = params.get('path') || '/';
  const after = params.get('after');
  const query = `browse?path=${encodeURIComponent(path)}${after ? `&after=${encodeURIComponent(after)}` : ''}`;
  const { data, error, reload } = usePoll(query, 3000);
  const [status, setStatus] = useState(undefined);
  const [busy, setBusy] = useState(false);
  const act = async (action, p) => {
    setBusy(true);
    setStatus({ text: `${action} ${p}…` });
    try {
      const r = await api('actions', { method: 'POST', body: { action, path: p } });
      const what = r.job
        ? `started job ${r.job.id} (see Jobs)`
        : `now ${r.info.cachedPercent.toFixed(0)} % cached${r.info.pinned ? ', pinned' : ''}`;
      setStatus({ text: `${action} ${p}: done, ${what}`, ok: true });
    } catch (e) {
      setStatus({ text: `${action} ${p} refused: ${e.code}: ${e.message}`, ok: false });
    } finally {
      setBusy(false);
      reload();
    }
  };
  return html`<nav class="crumbs" data-testid="crumbs">
      ${crumbs(path).map(([name, p], i) => html`${i > 1 ? ' / ' : ' '}<a href=${link(p)}>${name}</a>`)}
    </nav>
    ${status ? html`<p class=${status.ok === false ? 'error' : status.ok ? 'ok' : 'muted'} data-testid="action-status">${status.text}</p>` : null}
    <${ErrorLine} error=${error} />
    ${
      !data
        ? error
          ? null
          : html`<${Loading} />`
        : html`<table data-testid="entries">
            <thead><tr><th>Name</th><th>Size</th><th>Cached</th><th>Pinned</th><th>TTL</th><th>Owner worker(s)</th><th>Actions</th></tr></thead>
            <tbody>
              ${(data.info.type === 'file' ? [data.info] : data.entries).map((e) => html`<${Row} e=${e} act=${act} busy=${busy} />`)}
            </tbody>
          </table>
          ${
            data.info.type === 'directory'
              ? html`<p class="muted">
                  ${`${data.entries.length} of ${data.total} entries · `}
                  ${data.next ? html`<a href=${`${link(path)}&after=${encodeURIComponent(data.next)}`}>next page</a>${' · '}` : null}
                  load / free of a directory run as a job
                </p>`
              : null
          }`
    }`;
}
