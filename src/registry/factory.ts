import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StrataError } from '../core/errors.js';
import type { Registry } from './registry.js';

export interface CreateRegistryOptions {
  /** Data directory of the process; `embedded` keeps its files in `<dataDir>/registry`. */
  readonly dataDir?: string;
  /** Default lease TTL of worker registrations (ms). */
  readonly leaseTtlMs?: number;
  /** etcd: deadline of every call (ms). */
  readonly callTimeoutMs?: number;
  /** etcd: key prefix (default "/strata/"); a path in the URI wins. */
  readonly prefix?: string;
}

/** Whether a registry URI names etcd: `etcd://` (plain gRPC) or `etcds://` (gRPC over TLS). */
export function isEtcdUri(uri: string): boolean {
  return uri.startsWith('etcd://') || uri.startsWith('etcds://');
}

/**
 * Opens the registry a URI names: `etcd://host:port[,host:port...][/prefix/]` (a cluster),
 * `embedded` (files in `<dataDir>/registry`) or `embedded:///abs/dir`. Backends load lazily, so
 * etcd3 is only imported by processes that use etcd.
 */
export async function createRegistry(uri: string, options: CreateRegistryOptions = {}): Promise<Registry> {
  const registry = await construct(uri, options);
  await registry.open();
  return registry;
}

async function construct(uri: string, options: CreateRegistryOptions): Promise<Registry> {
  const ttl = options.leaseTtlMs === undefined ? {} : { leaseTtlMs: options.leaseTtlMs };
  if (isEtcdUri(uri)) {
    const { EtcdRegistry } = await import('./etcd-registry.js');
    return new EtcdRegistry(uri, {
      ...ttl,
      ...(options.callTimeoutMs === undefined ? {} : { callTimeoutMs: options.callTimeoutMs }),
      ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    });
  }
  if (uri === 'embedded' || uri === 'embedded://' || uri.startsWith('embedded:/')) {
    const { EmbeddedRegistry } = await import('./embedded-registry.js');
    return new EmbeddedRegistry(embeddedDir(uri, options), ttl);
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1];
  throw new StrataError(
    'INVALID_URI',
    scheme === undefined
      ? `registry must be etcd://host:port or embedded, got "${uri}"`
      : `unknown registry scheme "${scheme}:" (expected etcd:// or embedded)`,
  );
}

function embeddedDir(uri: string, options: CreateRegistryOptions): string {
  if (uri === 'embedded' || uri === 'embedded://') {
    if (options.dataDir === undefined)
      throw new StrataError(
        'INVALID_ARGUMENT',
        'the embedded registry needs a data directory (or embedded:///dir)',
      );
    return join(options.dataDir, 'registry');
  }
  // embedded:///abs/dir, written like a file URL.
  let dir: string;
  try {
    dir = fileURLToPath(`file:${uri.slice('embedded:'.length)}`);
  } catch (err) {
    throw new StrataError(
      'INVALID_URI',
      `embedded registry URI must be embedded:///absolute/dir, got "${uri}"`,
      {
        cause: err,
      },
    );
  }
  return dir;
}
