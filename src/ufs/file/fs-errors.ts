import { StrataError, toStrataError } from '../../core/errors.js';

/**
 * errno → StrataError for a local or NFS store. toStrataError covers the common codes; a few mean
 * something else when the disk is the under-store rather than the cache.
 */
export function mapFsError(err: unknown, path: string, message?: string): StrataError {
  if (err instanceof StrataError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  // The system message names the host path of the store; the store-relative path is enough.
  const text = message ?? (code ? `${code}: ${path}` : err instanceof Error ? err.message : String(err));
  const details = { path };
  switch (code) {
    case 'ELOOP':
      return new StrataError('INVALID_PATH', text, { cause: err, details });
    case 'ENOSPC':
    case 'EDQUOT':
      // The store's disk is full — not the cache (toStrataError's CACHE_FULL).
      return new StrataError('UFS_UNAVAILABLE', `store is out of space: ${text}`, { cause: err, details });
    case 'EIO':
    case 'ESTALE':
    case 'EMFILE':
    case 'ENFILE':
    case 'EBUSY':
    case 'EAGAIN':
      return new StrataError('UFS_UNAVAILABLE', text, { cause: err, details });
    case 'EINVAL':
      return new StrataError('INVALID_ARGUMENT', text, { cause: err, details });
    default: {
      const mapped = toStrataError(err, 'UFS_UNAVAILABLE');
      return new StrataError(mapped.code, text, { cause: err, details });
    }
  }
}

/** AbortSignal check that fails with the Strata code rather than a DOMException. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new StrataError('CANCELLED', 'operation cancelled', { cause: signal.reason });
}
