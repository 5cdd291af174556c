import { type ErrorCode, isAbortError, StrataError } from '../../core/errors.js';

/**
 * HTTP status codes and undici failures → StrataError. Messages name the store path and method,
 * never headers (they may carry credentials).
 */

export function statusError(status: number, method: string, path: string, hint = ''): StrataError {
  let code: ErrorCode;
  if (status === 404 || status === 410) code = 'NOT_FOUND';
  else if (status === 401 || status === 403) code = 'PERMISSION_DENIED';
  else if (status === 416) code = 'INVALID_RANGE';
  else if (status === 414) code = 'NAME_TOO_LONG';
  else code = 'UFS_UNAVAILABLE'; // 5xx, 408, 429 and anything this connector does not expect
  return new StrataError(code, `${method} ${path}: HTTP ${status}${hint ? ` (${hint})` : ''}`, {
    details: { path, status },
  });
}

/** undici's timeouts, and what each means for the caller. */
const TIMEOUTS: Record<string, string> = {
  UND_ERR_HEADERS_TIMEOUT: 'the server sent no response within',
  UND_ERR_BODY_TIMEOUT: 'the response body stalled for more than',
  UND_ERR_CONNECT_TIMEOUT: 'could not connect within',
  ETIMEDOUT: 'the connection timed out after',
};

/**
 * A failure of the request itself (no usable answer). `timeoutMs` is the connector's timeout, named
 * in timeout messages so the reader knows which knob to turn.
 */
export function transportError(err: unknown, method: string, path: string, timeoutMs?: number): StrataError {
  if (err instanceof StrataError) return err;
  const details = { path };
  if (isAbortError(err) || (err as { code?: string } | undefined)?.code === 'UND_ERR_ABORTED') {
    return new StrataError('CANCELLED', `${method} ${path}: cancelled`, { cause: err, details });
  }
  const code = (err as { code?: string } | undefined)?.code ?? '';
  const text = err instanceof Error ? err.message : String(err);
  const timeout = TIMEOUTS[code];
  if (timeout !== undefined) {
    const limit = timeoutMs === undefined ? '' : ` ${timeoutMs} ms (the mount option timeoutMs)`;
    // The store did not answer in time: it is unavailable (UFS_UNAVAILABLE, as the store deadline
    // of src/ufs/instrumented-store.ts), not a stuck worker (TIMEOUT makes clients fail over).
    return new StrataError('UFS_UNAVAILABLE', `${method} ${path}: ${limit ? `${timeout}${limit}` : text}`, {
      cause: err,
      details,
    });
  }
  // Refused, reset, DNS, TLS, protocol errors, length mismatches: the store failed us.
  return new StrataError('UFS_UNAVAILABLE', `${method} ${path}: ${code ? `${code} ` : ''}${text}`, {
    cause: err,
    details,
  });
}

/** undici errors of a request whose pooled connection the server had closed (keep-alive race). */
const STALE_CONNECTION_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/**
 * Whether a request failed because its connection went away before any answer, so that an
 * idempotent request may be sent again on another connection.
 */
export function isStaleConnection(err: unknown): boolean {
  return STALE_CONNECTION_CODES.has((err as { code?: string } | undefined)?.code ?? '');
}
