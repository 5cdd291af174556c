import { request } from 'undici';
import { clientRequestOptions } from '../../core/tls-options.js';
import type { ClockSample } from './finding.js';

/** One GET with a deadline, keeping what the clock check needs (the Date header and when). */

export interface ProbeAnswer {
  readonly status: number;
  readonly text: string;
  readonly clock?: ClockSample;
}

export async function probe(
  url: string,
  options: { token?: string | undefined; timeoutMs?: number; source?: string } = {},
): Promise<ProbeAnswer> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const sentAtMs = Date.now();
  const res = await request(url, {
    ...(await clientRequestOptions()),
    headers,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.body.text();
  const receivedAtMs = Date.now();
  const date = res.headers.date;
  const serverMs = typeof date === 'string' ? Date.parse(date) : Number.NaN;
  return {
    status: res.statusCode,
    text,
    ...(Number.isFinite(serverMs)
      ? { clock: { source: options.source ?? new URL(url).origin, sentAtMs, receivedAtMs, serverMs } }
      : {}),
  };
}

/** A transport failure in a few words: "connection refused", "timed out after 5 s", … */
export function transportText(err: unknown): string {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name not found';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'host unreachable';
  if (e.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT')
    return 'no answer before the deadline';
  return `${code ?? e.name ?? 'error'}: ${e.message ?? String(err)}`;
}
