import { StrataError } from './errors.js';

/**
 * The error an aborted call rejects with: the signal's reason when it is a StrataError (a
 * deadline sets TIMEOUT), TIMEOUT for AbortSignal.timeout(), else CANCELLED.
 */
export function abortError(signal: AbortSignal): StrataError {
  const reason: unknown = signal.reason;
  if (reason instanceof StrataError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError')
    return new StrataError('TIMEOUT', reason.message, { cause: reason });
  return new StrataError('CANCELLED', 'operation cancelled', { cause: reason });
}

/** Throws abortError(signal) when the signal has fired; every StrataFileSystem method starts so. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}
