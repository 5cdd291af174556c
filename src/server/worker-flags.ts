import { loadServerConfig, type ServerConfig } from '../core/config.js';
import { loadServerTls, type ServerTls, useCaFile, useEtcdClientCert } from '../core/tls-options.js';

/** Flags every process that runs a worker takes (`strata local`, `strata worker`). */
export const WORKER_FLAGS = {
  'data-dir': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  config: { type: 'string' },
  'page-size': { type: 'string' },
  'memory-capacity': { type: 'string' },
  'disk-capacity': { type: 'string' },
  'disk-encryption-key-file': { type: 'string' },
  eviction: { type: 'string' },
  'persist-delay': { type: 'string' },
  'ttl-check-interval': { type: 'string' },
  'token-file': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'idle-timeout': { type: 'string' },
  'max-connections-per-address': { type: 'string' },
  'max-in-flight': { type: 'string' },
  'store-deadline': { type: 'string' },
  'log-level': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'ca-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type FlagValues = { readonly [K in keyof typeof WORKER_FLAGS]?: string | boolean | undefined };

/** The server configuration from those flags, the environment and the config file. */
export function workerConfig(values: FlagValues, extra: Record<string, unknown> = {}): Promise<ServerConfig> {
  return loadServerConfig(
    {
      dataDir: values['data-dir'],
      host: values.host,
      port: values.port,
      pageSize: values['page-size'],
      memoryCapacity: values['memory-capacity'],
      diskCapacity: values['disk-capacity'],
      diskEncryptionKeyFile: values['disk-encryption-key-file'],
      eviction: values.eviction,
      persistDelayMs: values['persist-delay'],
      ttlCheckIntervalMs: values['ttl-check-interval'],
      tokenFile: values['token-file'],
      headersTimeoutMs: values['headers-timeout'],
      idleTimeoutMs: values['idle-timeout'],
      maxConnectionsPerAddress: values['max-connections-per-address'],
      maxInFlight: values['max-in-flight'],
      storeDeadlineMs: values['store-deadline'],
      logLevel: values['log-level'],
      tlsCert: values['tls-cert'],
      tlsKey: values['tls-key'],
      caFile: values['ca-file'],
      ...extra,
    },
    process.env,
    typeof values.config === 'string' ? values.config : undefined,
  );
}

/**
 * The listener TLS of a server process from its configuration (undefined: plain HTTP), and its
 * client CA file put in use for every transport the process opens (workers, registry, etcd).
 */
export async function serverTls(config: ServerConfig): Promise<ServerTls | undefined> {
  if (config.caFile !== undefined && config.caFile !== '') await useCaFile(config.caFile, '--ca-file');
  if (config.etcdCert !== undefined || config.etcdKey !== undefined)
    await useEtcdClientCert(config.etcdCert, config.etcdKey, {
      cert: '--etcd-cert (STRATA_ETCD_CERT, etcdCert)',
      key: '--etcd-key (STRATA_ETCD_KEY, etcdKey)',
    });
  return loadServerTls(config.tlsCert, config.tlsKey, {
    cert: '--tls-cert (STRATA_TLS_CERT, tlsCert)',
    key: '--tls-key (STRATA_TLS_KEY, tlsKey)',
  });
}
