import { type ErrorCode, isAbortError, StrataError } from '../../core/errors.js';

/**
 * Translates AWS SDK v3 / network errors into StrataError. Messages are built only from the
 * operation, bucket, key and the S3 error code: never from the vendor message or request, so no
 * credential (or signing material) can leak into logs. The original error stays in `cause`.
 */

interface SdkErrorLike {
  name?: string;
  code?: string;
  Code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

const BY_NAME: Readonly<Record<string, ErrorCode>> = {
  NoSuchKey: 'NOT_FOUND',
  NotFound: 'NOT_FOUND',
  NoSuchBucket: 'NOT_FOUND',
  NoSuchUpload: 'NOT_FOUND',
  AccessDenied: 'PERMISSION_DENIED',
  Forbidden: 'PERMISSION_DENIED',
  InvalidAccessKeyId: 'PERMISSION_DENIED',
  SignatureDoesNotMatch: 'PERMISSION_DENIED',
  AllAccessDisabled: 'PERMISSION_DENIED',
  ExpiredToken: 'PERMISSION_DENIED',
  InvalidToken: 'PERMISSION_DENIED',
  InvalidRange: 'INVALID_RANGE',
  KeyTooLongError: 'NAME_TOO_LONG',
  // The SDK's own request/connection timeout: the store did not answer (see instrumented-store.ts).
  TimeoutError: 'UFS_UNAVAILABLE',
  RequestTimeout: 'TIMEOUT',
  RequestTimeTooSkewed: 'PERMISSION_DENIED',
  SlowDown: 'UFS_UNAVAILABLE',
  ServiceUnavailable: 'UFS_UNAVAILABLE',
  InternalError: 'UFS_UNAVAILABLE',
};

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

function codeFor(e: SdkErrorLike): ErrorCode {
  const name = e.name ?? e.Code ?? '';
  const byName = BY_NAME[name];
  if (byName) return byName;
  if (e.code === 'ETIMEDOUT') return 'UFS_UNAVAILABLE';
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return 'UFS_UNAVAILABLE';
  const status = e.$metadata?.httpStatusCode;
  if (status === 404) return 'NOT_FOUND';
  if (status === 401 || status === 403) return 'PERMISSION_DENIED';
  if (status === 416) return 'INVALID_RANGE';
  if (status === 400) return 'INVALID_ARGUMENT';
  // 5xx, throttling, unknown transport failures: the store is (for now) not usable.
  return 'UFS_UNAVAILABLE';
}

/** `what` names the operation and object, e.g. "GetObject my-bucket/a/b.txt". */
export function translateS3Error(err: unknown, what: string, signal?: AbortSignal): StrataError {
  if (err instanceof StrataError) return err;
  if (signal?.aborted || isAbortError(err))
    return new StrataError('CANCELLED', `${what}: cancelled`, { cause: err });
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorLike;
  const code = codeFor(e);
  const s3Code = e.name ?? e.code ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  let message = `${what}: ${s3Code}${status === undefined ? '' : ` (HTTP ${status})`}`;
  if (s3Code === 'NoSuchBucket') message = `${what}: the bucket does not exist`;
  else if (code === 'PERMISSION_DENIED') message += ' - check the credentials and the bucket policy';
  const details: Record<string, unknown> = { s3Code };
  if (status !== undefined) details.httpStatus = status;
  if (e.$metadata?.requestId) details.requestId = e.$metadata.requestId;
  return new StrataError(code, message, { cause: err, details });
}

export function isS3NotFound(err: unknown): boolean {
  return err instanceof StrataError && err.code === 'NOT_FOUND' && err.details.s3Code !== 'NoSuchBucket';
}
