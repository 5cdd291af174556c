import type { IOptions } from 'etcd3';

type FaultHandling = NonNullable<IOptions['faultHandling']>;
type HostPolicy = ReturnType<NonNullable<FaultHandling['host']>>;
type WatchBackoff = NonNullable<FaultHandling['watchBackoff']>;

/** Thrown while a host's breaker is open; not "recoverable" to etcd3, so its global retry stops. */
export class EtcdHostDownError extends Error {
  override readonly name = 'EtcdHostDownError';
}

/**
 * A per-host circuit breaker for etcd3: opens after `failures` consecutive connection failures
 * and lets one call through again after `halfOpenAfterMs`. etcd3's default waits 5 s, which with
 * a single etcd node delays every call that long after the node is back; we use 1 s.
 */
export function hostBreaker(
  isRecoverable: (err: Error) => boolean,
  failures = 3,
  halfOpenAfterMs = 1000,
): () => HostPolicy {
  return () => {
    let consecutive = 0;
    let openUntil = 0;
    let lastError: Error | undefined;
    const policy = {
      async execute<T>(
        fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T,
        signal?: AbortSignal,
      ): Promise<T> {
        if (consecutive >= failures && Date.now() < openUntil)
          throw new EtcdHostDownError(`etcd host is failing (${lastError?.message ?? 'unknown error'})`, {
            cause: lastError,
          });
        try {
          const out = await fn({ signal: signal ?? new AbortController().signal });
          consecutive = 0;
          return out;
        } catch (err) {
          if (err instanceof Error && isRecoverable(err)) {
            lastError = err;
            consecutive++;
            if (consecutive >= failures) openUntil = Date.now() + halfOpenAfterMs;
          }
          throw err;
        }
      },
    };
    // etcd3 only calls execute(); the rest of cockatiel's IPolicy surface is unused.
    return policy as unknown as HostPolicy;
  };
}

/** Watch reconnect backoff: 100 ms doubling to 2 s (etcd3's default grows to 30 s). */
export function watchBackoff(durationMs = 100, maxMs = 2000): WatchBackoff {
  const make = (d: number): WatchBackoff & { readonly duration: number } => ({
    duration: d,
    next: () => make(Math.min(maxMs, d * 2)),
  });
  return make(durationMs);
}
