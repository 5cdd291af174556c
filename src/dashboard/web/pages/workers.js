import { ago, Bar, bytes, ErrorLine, html, Loading, percent, usePoll } from '../lib.js';

export function Workers() {
  const { data, error } = usePoll('workers', 2000);
  if (!data) return html`<${ErrorLine} error=${error} />${error ? null : html`<${Loading} />`}`;
  return html`<${ErrorLine} error=${error} />
    <table data-testid="workers">
      <thead><tr><th>Id</th><th>Address</th><th>State</th><th>Version</th><th>Capacity</th><th>Used</th><th>Use</th><th>Hit ratio</th><th>Last lease renewal</th></tr></thead>
      <tbody>
        ${data.workers.map(
          (w) => html`<tr data-testid="worker-row" data-worker=${w.id}>
            <td>${w.id}</td><td>${w.address}</td>
            <td><span class=${`state ${w.state.toLowerCase()}`}>${w.state}</span></td>
            <td>${w.version}</td><td>${bytes(w.capacityBytes)}</td><td>${bytes(w.usedBytes)}</td>
            <td><${Bar} value=${w.capacityBytes === 0 ? 0 : (w.usedBytes / w.capacityBytes) * 100} /></td>
            <td>${percent(w.hitRatio)}</td><td>${ago(w.leaseRenewedAtMs)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    <h2>Tiers per worker</h2>
    <table>
      <thead><tr><th>Worker</th><th>Tier</th><th>Used</th><th>Capacity</th><th>Pages</th><th>Evictions</th></tr></thead>
      <tbody>
        ${data.workers.flatMap((w) =>
          w.tiers.map(
            (t) =>
              html`<tr><td>${w.id}</td><td>${t.tier}</td><td>${bytes(t.usedBytes)}</td><td>${bytes(t.capacityBytes)}</td><td>${t.pages}</td><td>${t.evictions}</td></tr>`,
          ),
        )}
      </tbody>
    </table>`;
}
