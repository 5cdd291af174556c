// Shared helpers of the dashboard's pages: the API, polling, formatting.

import htm from 'htm';
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export const html = htm.bind(h);

const TOKEN_KEY = 'strata.token';

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(token) {
  if (token === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** A call of /api/v1/dashboard/…; rejects with the server's error message (and code). */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  const token = getToken();
  if (token !== '') headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/api/v1/dashboard/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(json.error?.message ?? `HTTP ${res.status}`);
    err.code = json.error?.code ?? String(res.status);
    throw err;
  }
  return json;
}

/** The JSON of `path`, fetched now and every `ms` while the page shows it; `reload` fetches at once. */
export function usePoll(path, ms = 2000) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  const [tick, setTick] = useState(0);
  const live = useRef(true);
  useEffect(() => {
    live.current = true;
    let timer;
    const run = async () => {
      try {
        const data = await api(path);
        if (live.current) setState({ data, error: undefined });
      } catch (error) {
        if (live.current) setState((s) => ({ data: s.data, error }));
      }
      if (live.current) timer = setTimeout(run, ms);
    };
    run();
    return () => {
      live.current = false;
      clearTimeout(timer);
    };
  }, [path, ms, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function bytes(n) {
  if (n === undefined || n === null) return '—';
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${UNITS[u]}`;
}

export function percent(ratio) {
  return `${(ratio * 100).toFixed(1)} %`;
}

export function ago(ms) {
  if (!ms) return '—';
  const s = (Date.now() - ms) / 1000;
  if (s < 60) return `${Math.max(0, s).toFixed(1)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

export function duration(ms) {
  if (ms === undefined || ms === null) return '—';
  const s = ms / 1000;
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

export function Bar({ value, label }) {
  const pct = Math.max(0, Math.min(100, value));
  return html`<span class="bar" title=${label ?? `${pct.toFixed(1)} %`}
    ><span class="fill" style=${`width:${pct}%`}></span><span class="text">${label ?? `${pct.toFixed(0)} %`}</span></span
  >`;
}

export function ErrorLine({ error }) {
  if (!error) return null;
  return html`<p class="error" data-testid="error">${error.code ? `${error.code}: ` : ''}${error.message}</p>`;
}

export function Loading() {
  return html`<p class="muted">Loading…</p>`;
}
