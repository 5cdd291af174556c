import { Bar, bytes, ErrorLine, html, Loading, percent, usePoll } from '../lib.js';

export function Overview() {
  const { data, error } = usePoll('overview', 2000);
  if (!data) return html`<${ErrorLine} error=${error} />${error ? null : html`<${Loading} />`}`;
  const w = data.workers;
  return html`<${ErrorLine} error=${error} />
    <section class="cards">
      <div class="card" data-testid="card-workers">
        <h2>Workers</h2>
        <p class="big">${w.ACTIVE}<small> up</small></p>
        <p>${w.DRAINING} draining · ${w.LOST} lost · ${w.total} listed</p>
      </div>
      <div class="card" data-testid="card-hit-ratio">
        <h2>Hit ratio</h2>
        <p class="big" data-testid="hit-ratio">${percent(data.hitRatio)}</p>
        <p>${bytes(data.hitBytes)} from cache · ${bytes(data.missBytes)} missed</p>
      </div>
      <div class="card" data-testid="card-store">
        <h2>Store bytes read</h2>
        <p class="big" data-testid="store-read">${bytes(data.storeReadBytes)}</p>
        <p>${bytes(data.storeWriteBytes)} written · ${data.pendingPersists} persists pending</p>
      </div>
      <div class="card" data-testid="card-egress">
        <h2>Egress saved</h2>
        <p class="big">—</p>
        <p class="muted">measured once mounts carry an egress cost (the policies issue)</p>
      </div>
      <div class="card" data-testid="card-jobs">
        <h2>Jobs</h2>
        ${
          data.jobs.available
            ? html`<p class="big" data-testid="jobs-running">${data.jobs.running}<small> running</small></p>
              <p>${data.jobs.pending} pending</p>`
            : html`<p class="big">—</p><p class="muted">${data.jobs.message}</p>`
        }
      </div>
    </section>
    <h2>Cache tiers</h2>
    <table data-testid="tiers">
      <thead><tr><th>Tier</th><th>Used</th><th>Capacity</th><th>Use</th><th>Pages</th><th>Evictions</th></tr></thead>
      <tbody>
        ${data.tiers.map(
          (t) => html`<tr>
            <td>${t.tier}</td><td>${bytes(t.usedBytes)}</td><td>${bytes(t.capacityBytes)}</td>
            <td><${Bar} value=${t.capacityBytes === 0 ? 0 : (t.usedBytes / t.capacityBytes) * 100} /></td>
            <td>${t.pages}</td><td>${t.evictions}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    <p class="muted">
      ${`Strata ${data.version} · ${data.role === 'local' ? 'strata local' : 'cluster'} · registry ${data.registry} · ${data.mounts} mount(s) · page served by ${data.servedBy}`}
    </p>`;
}
