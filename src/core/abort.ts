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

/** What `work` resolves to, unless `signal` fires first (then its abort error; `work` runs on). */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
