import { useEffect, useRef } from 'preact/hooks';
import { bytes, ErrorLine, html, usePoll } from '../lib.js';

/** Per-interval rates from the cumulative samples (a counter that went back, a restart, counts 0). */
function series(samples) {
  const x = [];
  const hit = [];
  const cache = [];
  const storeRead = [];
  const storeWrite = [];
  const evictions = [];
  const used = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    const dt = (b.t - a.t) / 1000;
    if (dt <= 0) continue;
    const d = (k) => Math.max(0, b[k] - a[k]);
    x.push(b.t / 1000);
    const h = d('hitBytes');
    const m = d('missBytes');
    hit.push(h + m === 0 ? null : (h / (h + m)) * 100);
    cache.push(h / dt);
    storeRead.push(d('storeReadBytes') / dt);
    storeWrite.push(d('storeWriteBytes') / dt);
    evictions.push(d('evictions') / dt);
    used.push(b.usedBytes);
  }
  return { x, hit, cache, storeRead, storeWrite, evictions, used };
}

const COLORS = ['#2563eb', '#16a34a', '#dc2626', '#9333ea'];
const rate = (_u, v) => (v === null || v === undefined ? '—' : `${bytes(v)}/s`);

function Chart({ title, x, lines, format, testid }) {
  const box = useRef(null);
  const plot = useRef(null);
  const data = [x, ...lines.map((l) => l.values)];
  useEffect(() => {
    const width = Math.max(320, (box.current?.clientWidth ?? 640) - 8);
    plot.current = new window.uPlot(
      {
        width,
        height: 200,
        series: [
          {},
          ...lines.map((l, i) => ({
            label: l.label,
            stroke: COLORS[i],
            width: 2,
            spanGaps: false,
            value: format,
          })),
        ],
        axes: [{}, { values: (u, vals) => vals.map((v) => format(u, v)), size: 80 }],
        scales: { x: { time: true } },
      },
      data,
      box.current,
    );
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => {
    plot.current?.setData(data);
  });
  // For tests and scripts: how many points are drawn, and the largest value of the first line.
  const max = Math.max(0, ...lines[0].values.filter((v) => v !== null));
  return html`<section class="chart" data-testid=${testid} data-points=${x.length} data-max=${max}>
    <h2>${title}</h2><div ref=${box}></div>
  </section>`;
}

export function Charts() {
  const { data, error } = usePoll('history', 3000);
  const s = series(data?.samples ?? []);
  const pct = (_u, v) => (v === null || v === undefined ? '—' : `${v.toFixed(1)} %`);
  const count = (_u, v) => (v === null || v === undefined ? '—' : `${v.toFixed(2)}/s`);
  return html`<${ErrorLine} error=${error} />
    <p class="muted" data-testid="history-note">
      ${
        data
          ? `${data.samples.length} samples, one every ${data.intervalMs / 1000} s (the last hour, kept in memory by each worker)${data.samples.length < 2 ? ': the first rates appear with the second sample' : ''}`
          : 'Loading…'
      }
    </p>
    <${Chart} testid="chart-hit-ratio" title="Hit ratio" x=${s.x} lines=${[{ label: 'hit ratio', values: s.hit }]} format=${pct} />
    <${Chart} testid="chart-cache" title="Cache throughput" x=${s.x} lines=${[{ label: 'served from cache', values: s.cache }]} format=${rate} />
    <${Chart} testid="chart-store" title="Store throughput" x=${s.x}
      lines=${[{ label: 'read', values: s.storeRead }, { label: 'written', values: s.storeWrite }]} format=${rate} />
    <${Chart} testid="chart-evictions" title="Evictions" x=${s.x} lines=${[{ label: 'pages evicted', values: s.evictions }]} format=${count} />`;
}
