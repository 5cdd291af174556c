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

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);

export function transportError(err: unknown, method: string, path: string): StrataError {
  if (err instanceof StrataError) return err;
  const details = { path };
  if (isAbortError(err) || (err as { code?: string } | undefined)?.code === 'UND_ERR_ABORTED') {
    return new StrataError('CANCELLED', `${method} ${path}: cancelled`, { cause: err, details });
  }
  const code = (err as { code?: string } | undefined)?.code ?? '';
  const text = err instanceof Error ? err.message : String(err);
  if (TIMEOUT_CODES.has(code)) {
    return new StrataError('TIMEOUT', `${method} ${path}: ${text}`, { cause: err, details });
  }
  // Refused, reset, DNS, TLS, protocol errors, length mismatches: the store failed us.
  return new StrataError('UFS_UNAVAILABLE', `${method} ${path}: ${code ? `${code} ` : ''}${text}`, {
    cause: err,
    details,
  });
}
