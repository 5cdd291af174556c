import { useState } from 'preact/hooks';
import { api, Bar, bytes, ErrorLine, html, Loading, usePoll } from '../lib.js';

const FINAL = new Set(['SUCCEEDED', 'FAILED', 'COMPLETED_WITH_FAILURES', 'CANCELLED']);

function progress(j) {
  const handled = j.filesDone + j.filesSkipped + j.filesFailed;
  const pct = j.filesTotal === 0 ? (FINAL.has(j.state) ? 100 : 0) : (handled / j.filesTotal) * 100;
  return html`<${Bar} value=${pct} label=${`${handled} / ${j.filesTotal}${j.listingDone ? '' : '+'} files`} />`;
}

function Failures({ j }) {
  if (j.filesFailed === 0 && !j.error) return null;
  return html`<details data-testid="job-failures">
    <summary>${j.filesFailed} failed${j.error ? `, ${j.error.code}` : ''}</summary>
    ${j.error ? html`<p class="error">${j.error.code}: ${j.error.message}</p>` : null}
    <ul>${j.failures.map((f) => html`<li class="mono">${f.path}: ${f.code} ${f.message}</li>`)}</ul>
  </details>`;
}

export function Jobs() {
  const { data, error, reload } = usePoll('jobs', 1000);
  const [status, setStatus] = useState(undefined);
  const cancel = async (id) => {
    try {
      const j = await api(`jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
      setStatus({ text: `job ${id}: ${j.state}`, ok: true });
    } catch (e) {
      setStatus({ text: `cancel ${id} refused: ${e.code}: ${e.message}`, ok: false });
    }
    reload();
  };
  if (!data) return html`<${ErrorLine} error=${error} />${error ? null : html`<${Loading} />`}`;
  if (!data.available)
    return html`<p class="muted" data-testid="jobs-unavailable">No scheduler answered: ${data.message}</p>
      <p class="muted">This page shows the scheduler's jobs (strata job load|free|persist|copy|move): live progress, failures, cancel.</p>`;
  return html`${status ? html`<p class=${status.ok ? 'ok' : 'error'} data-testid="job-status">${status.text}</p>` : null}
    <${ErrorLine} error=${error} />
    ${
      data.jobs.length === 0
        ? html`<p class="muted" data-testid="jobs-empty">No jobs yet. Start one with "strata job load PATH" or "load" on a directory in Browse.</p>`
        : html`<table data-testid="jobs">
          <thead><tr><th>Id</th><th>Kind</th><th>Path</th><th>State</th><th>Progress</th><th>Bytes</th><th>Failures</th><th></th></tr></thead>
          <tbody>
            ${data.jobs.map(
              (j) => html`<tr data-testid="job-row" data-job=${j.id}>
                <td class="mono">${j.id}</td><td>${j.kind}</td>
                <td class="mono">${j.path}${j.dst ? ` → ${j.dst}` : ''}</td>
                <td><span class=${`state ${j.state.toLowerCase()}`}>${j.state}</span></td>
                <td>${progress(j)}</td><td>${bytes(j.bytesDone)} / ${bytes(j.bytesTotal)}</td>
                <td><${Failures} j=${j} /></td>
                <td>${FINAL.has(j.state) ? null : html`<button onClick=${() => cancel(j.id)} data-testid="job-cancel">cancel</button>`}</td>
              </tr>`,
            )}
          </tbody>
        </table>`
    }`;
}
