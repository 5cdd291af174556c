import { StrataError } from '../../core/errors.js';
import { loadServerTls, type ServerTls, useCaFile, useEtcdClientCert } from '../../core/tls-options.js';
import { parseDuration } from '../../core/units.js';
import { DEFAULT_TIMEOUTS, type GatewayTimeouts } from './server.js';

/** Flags of `strata gateway s3`'s listener: its bounds and timeouts (docs/reliability.md, "Limits"). */

/** A flag's positive integer, or undefined (the default) when not given. */
export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new StrataError('INVALID_ARGUMENT', `${flag} must be a positive integer, got "${value}"`);
  return n;
}

/** --headers-timeout, --keep-alive-timeout, --idle-timeout (absent: DEFAULT_TIMEOUTS). */
export function gatewayTimeouts(values: {
  readonly 'headers-timeout'?: string | undefined;
  readonly 'keep-alive-timeout'?: string | undefined;
  readonly 'idle-timeout'?: string | undefined;
}): Partial<GatewayTimeouts> {
  const ms = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    const n = parseDuration(v, flag);
    if (n <= 0) throw new StrataError('INVALID_ARGUMENT', `${flag} must be positive, got "${v}"`);
    return n;
  };
  const headersMs = ms(values['headers-timeout'], '--headers-timeout');
  const keepAliveMs = ms(values['keep-alive-timeout'], '--keep-alive-timeout');
  const idleMs = ms(values['idle-timeout'], '--idle-timeout');
  return {
    ...(headersMs === undefined
      ? {}
      : // Checked 4 times per timeout, at least every 5 s, so a short one is kept closely.
        {
          headersMs,
          checkIntervalMs: Math.max(10, Math.min(DEFAULT_TIMEOUTS.checkIntervalMs, headersMs / 4)),
        }),
    ...(keepAliveMs === undefined ? {} : { keepAliveMs }),
    ...(idleMs === undefined ? {} : { idleMs }),
  };
}

/**
 * The TLS of `strata gateway s3` from its flags, the environment and the config file's top-level
 * keys: the CA file and etcd client certificate its clients use (put in use here), and the
 * certificate of its own ports (undefined: plain HTTP).
 */
export async function gatewayTls(
  values: {
    readonly 'tls-cert'?: string | undefined;
    readonly 'tls-key'?: string | undefined;
    readonly 'ca-file'?: string | undefined;
    readonly 'etcd-cert'?: string | undefined;
    readonly 'etcd-key'?: string | undefined;
  },
  file: { readonly tlsCert?: string; readonly tlsKey?: string; readonly caFile?: string },
): Promise<ServerTls | undefined> {
  const caFile = values['ca-file'] ?? process.env.STRATA_CA_FILE ?? file.caFile;
  if (caFile !== undefined && caFile !== '') await useCaFile(caFile, '--ca-file (STRATA_CA_FILE, caFile)');
  await useEtcdClientCert(
    values['etcd-cert'] ?? process.env.STRATA_ETCD_CERT,
    values['etcd-key'] ?? process.env.STRATA_ETCD_KEY,
    { cert: '--etcd-cert (STRATA_ETCD_CERT)', key: '--etcd-key (STRATA_ETCD_KEY)' },
  );
  return loadServerTls(
    values['tls-cert'] ?? process.env.STRATA_TLS_CERT ?? file.tlsCert,
    values['tls-key'] ?? process.env.STRATA_TLS_KEY ?? file.tlsKey,
    { cert: '--tls-cert (STRATA_TLS_CERT, tlsCert)', key: '--tls-key (STRATA_TLS_KEY, tlsKey)' },
  );
}
