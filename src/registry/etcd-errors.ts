import { StrataError } from '../core/errors.js';

/** Maps etcd3/gRPC failures to Strata codes, keeping the original as `cause`. */
export function translateEtcdError(err: unknown, what: string): StrataError {
  if (err instanceof StrataError) return err;
  const name = err instanceof Error ? err.name || err.constructor.name : '';
  const ctor = err instanceof Error ? err.constructor.name : '';
  const message = err instanceof Error ? err.message : String(err);
  const kind = `${name} ${ctor}`;
  if (
    /GRPCUnavailable|GRPCDeadlineExceeded|GRPCCancelled|GRPCConnectFailed|BrokenCircuit|EtcdHostDown|TaskCancelled|ClientClosed|EtcdLeaseInvalid|EtcdWatchStreamEnded/.test(
      kind,
    ) ||
    /ECONNREFUSED|UNAVAILABLE|No connection established|deadline/i.test(message)
  ) {
    return new StrataError('UNAVAILABLE', `${what}: etcd unavailable (${message})`, { cause: err });
  }
  if (/EtcdPermissionDenied|EtcdRoleNotGranted/.test(kind))
    return new StrataError('PERMISSION_DENIED', `${what}: ${message}`, { cause: err });
  if (/EtcdAuthenticationFailed|EtcdInvalidAuthToken|GRPCUnauthenticated/.test(kind))
    return new StrataError('UNAUTHENTICATED', `${what}: ${message}`, { cause: err });
  return new StrataError('INTERNAL', `${what}: ${message}`, { cause: err });
}

/** Keys may hold "/" (mount paths); encoding keeps one record per key and prefixes unambiguous. */
export function encodeKey(text: string): string {
  return encodeURIComponent(text);
}
