import { request } from 'undici';
import { StrataError } from '../core/errors.js';
import { parseSealKey } from '../core/seal.js';
import { clientRequestOptions, loadClientCa } from '../core/tls-options.js';
import { CLUSTER_TOKEN_KEY, type Registry, SEAL_KEY_CONFIG_KEY } from '../registry/registry.js';
import { ClusterFileSystem, type ClusterOptions } from './cluster-file-system.js';
import { clusterPathSettings } from './cluster-path.js';
import { resolveToken } from './discovery.js';
import { RemoteFileSystem, transportError } from './remote-file-system.js';
import type { StrataFileSystem, WorkerLocation } from './types.js';

/**
 * Connects to a Strata deployment through its registry:
 * - `etcd://host:port[,host:port]`: a cluster. The client watches the live workers in etcd and
 *   routes each path to its owners on a consistent-hash ring (ClusterFileSystem).
 * - `http://host:port`: a `strata local` process (its ready line's addresses.registry), which
 *   answers GET /registry/v1/workers; we talk to its one worker.
 *
 * The bearer token, by precedence: `token`, `tokenFile` (the CLI's `--token-file`), STRATA_TOKEN,
 * STRATA_TOKEN_FILE, then for http registries the token a `strata local` of this user on this
 * machine published (src/client/discovery.ts), and for etcd the cluster token in the registry.
 * So the CLI, `strata fuse mount` and `strata gateway s3` next to a `strata local` need no flag.
 */

export interface ConnectOptions extends ClusterOptions {
  /** A file holding the token (read once, trimmed). */
  readonly tokenFile?: string;
  /** Look for the token a local `strata local` published. Default true. */
  readonly discoverToken?: boolean;
}

export type ConnectedFileSystem = StrataFileSystem & {
  close(): Promise<void>;
  /** The workers owning a path, primary first. */
  location(path: string): readonly WorkerLocation[];
};

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
      ...(await clientRequestOptions()),
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
  // STRATA_CA_FILE, read once, before the first pool is made (RemoteFileSystem takes it as is).
  await loadClientCa();
  if (/^etcds?:\/\//.test(registryUri)) {
    const given = await resolveToken(registryUri, {
      token: options.token,
      tokenFile: options.tokenFile,
      discover: false,
    });
    const { createRegistry } = await import('../registry/factory.js');
    const registry = await createRegistry(registryUri, {});
    await registry.open();
    try {
      const token = given.token ?? (await registry.getConfig(CLUSTER_TOKEN_KEY));
      const directory = await unsealing(registry);
      const settings = clusterPathSettings(options);
      return await ClusterFileSystem.open(directory, token === undefined ? settings : { ...settings, token });
    } catch (err) {
      await registry.close();
      throw err;
    }
  }
  const { token } = await resolveToken(registryUri, {
    token: options.token,
    tokenFile: options.tokenFile,
    discover: options.discoverToken,
  });
  const withToken: ConnectOptions = token === undefined ? options : { ...options, token };
  const workers = await listWorkers(registryUri, withToken);
  const first = workers[0];
  if (!first) throw new StrataError('UNAVAILABLE', `registry ${registryUri} lists no live workers`);
  return Object.assign(new RemoteFileSystem(first.address, { ...withToken, discoverToken: false }), {
    location: (): WorkerLocation[] => [{ id: first.id, address: first.address }],
  });
}

/**
 * The registry as the client's direct store reads need it (fallbackToUfs): mount records with
 * their secrets opened with the cluster's seal key, when the registry has one.
 */
async function unsealing(registry: Registry): Promise<Registry> {
  const keyText = await registry.getConfig(SEAL_KEY_CONFIG_KEY);
  if (keyText === undefined) return registry;
  const [{ SealedRegistry }, { secretOptionsOf }] = await Promise.all([
    import('../registry/sealed-registry.js'),
    import('../ufs/factory.js'),
  ]);
  return new SealedRegistry(registry, { key: parseSealKey(keyText), secretOptionsOf });
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
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new StrataError('INVALID_ARGUMENT', `registry must be http://host:port (or etcd://), got ${uri}`);
  }
  // Keep any base path (e.g. behind a proxy) and make it a directory for relative resolution.
  if (!url.pathname.endsWith('/')) url.pathname = `${url.pathname}/`;
  url.search = '';
  url.hash = '';
  return url;
}
