import { ERROR_TABLE, isErrorCode, isS3Code, S3_STATUS } from '../../src/core/errors.js';
import type { Exchange, RawResponse } from './raw-http.js';

/**
 * What every answer must be, whatever was sent: HTTP/1.1 framing, an answer at all (unless the
 * request never ended), no 5xx but the legitimate ones, and an error body that is the documented
 * shape with a code whose status matches the one table (src/core/errors.ts).
 *
 * The legitimate 5xx, and why each can follow a request the fuzzer makes:
 * - S3 `501 NotImplemented`: a feature the gateway does not have (SigV4a, versioning…).
 * - S3 `503 SlowDown`, RPC `503 OVERLOADED`: the in-flight bound was reached (the fuzzer runs
 *   requests in parallel; a bound set low makes these on purpose).
 * - RPC `501 UNSUPPORTED`: an operation a store does not support.
 * - RPC `503 UFS_UNAVAILABLE`: a mount of `http://127.0.0.1:1/…`, the one origin the generator
 *   names that is down by construction (connection refused).
 * - RPC `507 CACHE_FULL`: the cache cannot take more (not expected at the sizes generated).
 */
export const ALLOWED_S3_5XX: ReadonlySet<string> = new Set(['NotImplemented', 'SlowDown']);
export const ALLOWED_PORT_5XX: ReadonlySet<string> = new Set([
  'UNSUPPORTED',
  'OVERLOADED',
  'UFS_UNAVAILABLE',
  'CACHE_FULL',
]);

export interface Verdict {
  readonly status?: number;
  /** The error code the body names (S3 XML Code, or the JSON error's code). */
  readonly code?: string;
  readonly violation?: string;
}

export function judge(kind: 's3' | 'port', ex: Exchange, o: { head: boolean; complete: boolean }): Verdict {
  if (ex.malformed !== undefined) return { violation: `malformed answer: ${ex.malformed}` };
  const res = ex.responses[0];
  if (res === undefined) {
    if (!o.complete) return {};
    if (ex.hung) return { violation: 'no answer before the deadline' };
    return { violation: `closed without an answer${ex.socketError ? ` (${ex.socketError})` : ''}` };
  }
  if (ex.responses.length > 1)
    return { status: res.status, violation: 'more than one answer to one request' };
  const violation = kind === 's3' ? judgeS3(res, o.head) : judgePort(res, o.head);
  const text = res.body.subarray(0, 4096).toString('utf8');
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? /"code":"([A-Z_]+)"/.exec(text)?.[1];
  return {
    status: res.status,
    ...(code === undefined ? {} : { code }),
    ...(violation === undefined ? {} : { violation }),
  };
}

function judgeS3(res: RawResponse, head: boolean): string | undefined {
  if (!res.headers.has('x-amz-request-id')) return `${res.status} without x-amz-request-id`;
  if (res.status < 300 || res.status === 304) return undefined;
  // HEAD errors carry no body (as S3's): only the status can be judged.
  if (head || res.body.length === 0) {
    return res.status >= 500 && res.status !== 501 && res.status !== 503
      ? `${res.status} (no body)`
      : undefined;
  }
  const text = res.body.toString('utf8');
  const code = /<Error>\s*<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  if (code === undefined) return `${res.status} body is not an S3 error: ${text.slice(0, 120)}`;
  if (!isS3Code(code)) return `unknown S3 code ${code}`;
  if (S3_STATUS[code] !== res.status)
    return `${code} answered ${res.status}, the table says ${S3_STATUS[code]}`;
  if (res.status >= 500 && !ALLOWED_S3_5XX.has(code)) return `${res.status} ${code}: ${message(text)}`;
  return undefined;
}

function message(xml: string): string {
  return (/<Message>([^<]*)<\/Message>/.exec(xml)?.[1] ?? '').slice(0, 200);
}

function judgePort(res: RawResponse, head: boolean): string | undefined {
  const type = res.headers.get('content-type') ?? '';
  if (res.status < 400 || head || res.body.length === 0) {
    return res.status >= 500 ? `${res.status} with no error body` : undefined;
  }
  if (!type.startsWith('application/json')) {
    return res.status >= 500
      ? `${res.status} ${type}: ${res.body.toString('utf8').slice(0, 120)}`
      : undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body.toString('utf8'));
  } catch {
    return `${res.status} body is not JSON: ${res.body.toString('utf8').slice(0, 120)}`;
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = error?.code;
  if (!isErrorCode(code))
    return `${res.status} error without a known code: ${JSON.stringify(parsed).slice(0, 160)}`;
  if (ERROR_TABLE[code].http !== res.status)
    return `${code} answered ${res.status}, the table says ${ERROR_TABLE[code].http}`;
  if (res.status >= 500 && !ALLOWED_PORT_5XX.has(code))
    return `${res.status} ${code}: ${String(error?.message).slice(0, 200)}`;
  return undefined;
}
