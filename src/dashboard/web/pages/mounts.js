import { useEffect, useState } from 'preact/hooks';
import { api, bytes, duration, ErrorLine, html, Loading, percent, usePoll } from '../lib.js';

/** Cached bytes of a mount: a tree walk (du), asked once per page view, with a server deadline. */
function CachedBytes({ path }) {
  const [state, setState] = useState(undefined);
  useEffect(() => {
    let live = true;
    api(`du?path=${encodeURIComponent(path)}`).then(
      (u) => live && setState({ text: `${bytes(u.cachedBytes)} of ${bytes(u.bytes)} (${u.files} files)` }),
      (e) =>
        live &&
        setState({ text: e.code === 'TIMEOUT' ? 'too many files to count here: strata fs du' : e.message }),
    );
    return () => {
      live = false;
    };
  }, [path]);
  return html`<span data-testid="mount-cached">${state ? state.text : '…'}</span>`;
}

function options(m) {
  const out = [
    m.readOnly ? 'read-only' : 'writable',
    `write ${m.writeType}`,
    `sync ${m.syncIntervalMs < 0 ? 'never' : duration(m.syncIntervalMs)}`,
  ];
  if (m.fallbackToUfs) out.push('fallback to store');
  for (const [k, v] of Object.entries(m.options ?? {})) out.push(`${k}=${v}`);
  return out.join(' · ');
}

export function Mounts() {
  const { data, error } = usePoll('mounts', 5000);
  if (!data) return html`<${ErrorLine} error=${error} />${error ? null : html`<${Loading} />`}`;
  return html`<${ErrorLine} error=${error} />
    <table data-testid="mounts">
      <thead><tr><th>Path</th><th>Store</th><th>Options</th><th>Cached</th><th>Hit ratio</th><th>Store read</th><th>Store written</th></tr></thead>
      <tbody>
        ${data.mounts.map(
          (m) => html`<tr data-testid="mount-row">
            <td><a href=${`#/browse?path=${encodeURIComponent(m.path)}`}>${m.path}</a></td>
            <td class="mono" data-testid="mount-uri">${m.uri}</td>
            <td>${options(m)}</td>
            <td><${CachedBytes} path=${m.path} /></td>
            <td>${percent(m.hitRatio)}</td><td>${bytes(m.storeReadBytes)}</td><td>${bytes(m.storeWriteBytes)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    <p class="muted">Store credentials are never shown: secret options read ****.</p>`;
}
