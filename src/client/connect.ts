import { request } from 'undici';
import { StrataError } from '../core/errors.js';
import { RemoteFileSystem, type RemoteFileSystemOptions, transportError } from './remote-file-system.js';
import type { StrataFileSystem } from './types.js';

/**
 * Connects to a Strata deployment through its registry. For this milestone the registry is the
 * `http://host:port` of a `strata local` process (its ready line's addresses.registry), which
 * answers GET /registry/v1/workers with {"workers":[{"id","address",...}]}; we talk to the first
 * worker. `etcd://` arrives with the cluster milestone.
 */

export interface ConnectOptions extends RemoteFileSystemOptions {}

export type ConnectedFileSystem = StrataFileSystem & { close(): Promise<void> };

export interface WorkerEntry {
  readonly id: string;
  readonly address: string;
}

/** Lists the live workers of an http registry. */
export async function listWorkers(registryUri: string, options: ConnectOptions = {}): Promise<WorkerEntry[]> {
  const url = registryUrl(registryUri);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(new URL('registry/v1/workers', url), {
      headers,
      headersTimeout: options.requestTimeoutMs ?? 30_000,
      bodyTimeout: options.bodyTimeoutMs ?? 60_000,
      signal: AbortSignal.timeout((options.connectTimeoutMs ?? 5_000) + (options.requestTimeoutMs ?? 30_000)),
    });
  } catch (err) {
    throw transportError(err, `registry ${url.origin}`);
  }
  let body: unknown;
  try {
    body = await res.body.json();
  } catch (err) {
    throw new StrataError(
      'UNAVAILABLE',
      `registry ${url.origin} answered HTTP ${res.statusCode} without JSON`,
      { cause: err },
    );
  }
  if (res.statusCode !== 200) {
    const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = res.statusCode === 401 ? 'UNAUTHENTICATED' : 'UNAVAILABLE';
    throw new StrataError(
      code,
      `registry ${url.origin} answered HTTP ${res.statusCode}: ${String(e?.message ?? '')}`,
    );
  }
  const workers = (body as { workers?: unknown } | null)?.workers;
  if (!Array.isArray(workers))
    throw new StrataError('UNAVAILABLE', `registry ${url.origin} sent no "workers" array`);
  return workers.filter(
    (w): w is WorkerEntry =>
      typeof w === 'object' && w !== null && typeof w.id === 'string' && typeof w.address === 'string',
  );
}

export async function connect(
  registryUri: string,
  options: ConnectOptions = {},
): Promise<ConnectedFileSystem> {
  const workers = await listWorkers(registryUri, options);
  const first = workers[0];
  if (!first) throw new StrataError('UNAVAILABLE', `registry ${registryUri} lists no live workers`);
  return new RemoteFileSystem(first.address, options);
}

function registryUrl(uri: string): URL {
  let url: URL;
  try {
    url = new URL(uri);
  } catch (err) {
    throw new StrataError('INVALID_ARGUMENT', `registry is not a URI: ${uri} (expected http://host:port)`, {
      cause: err,
    });
  }
  if (url.protocol === 'etcd:')
    throw new StrataError('UNSUPPORTED', 'etcd registry arrives with the cluster milestone');
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new StrataError('INVALID_ARGUMENT', `registry must be http://host:port (or etcd://), got ${uri}`);
  }
  // Keep any base path (e.g. behind a proxy) and make it a directory for relative resolution.
  if (!url.pathname.endsWith('/')) url.pathname = `${url.pathname}/`;
  url.search = '';
  url.hash = '';
  return url;
}
