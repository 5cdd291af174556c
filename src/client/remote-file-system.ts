import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { Pool } from 'undici';
import { abortError, throwIfAborted } from '../core/abort.js';
import { type ErrorCode, isAbortError, isErrorCode, StrataError } from '../core/errors.js';
import { checkListPage } from '../core/list-pages.js';
import type { PageLocation } from '../core/page-location.js';
import { currentRequestId, REQUEST_ID_HEADER } from '../core/request-context.js';
import { encryptionQuery } from '../core/store-encryption.js';
import { clientConnectOptions, tlsFailureHint } from '../core/tls-options.js';
import { discoverTokenFile, readTokenFile } from './discovery.js';
import { StatusBatcher, type StatusBatchResult } from './status-batcher.js';
import type {
  CacheProbeItem,
  CallOptions,
  ClusterReport,
  DeleteOptions,
  FileInfo,
  InvalidateOptions,
  JobBatchCallOptions,
  JobBatchRequest,
  JobBatchResult,
  JobSummary,
  ListPage,
  ListPageOptions,
  MountInfo,
  MountOptions,
  ReadOptions,
  StrataFileSystem,
  SyncOption,
  UsageSummary,
  WriteOptions,
} from './types.js';

/**
 * StrataFileSystem over the worker RPC (routes documented in src/server/rpc-server.ts). One
 * keep-alive undici Pool per worker; every call has connect and headers deadlines; transport
 * failures become UNAVAILABLE or TIMEOUT, server errors keep their code.
 */

export interface RemoteFileSystemOptions {
  /**
   * Bearer token the worker expects (cluster token, or the token of a `strata local`). Default:
   * the one a `strata local` of this user on this machine published for this address
   * (src/client/discovery.ts), else none.
   */
  readonly token?: string;
  /** Look for a published token when `token` is not given. Default true. */
  readonly discoverToken?: boolean;
  /** TCP connect deadline. Default 5,000 ms. */
  readonly connectTimeoutMs?: number;
  /** Deadline for response headers of ordinary calls. Default 30,000 ms. */
  readonly requestTimeoutMs?: number;
  /** Deadline for headers of load/free/report, which walk whole trees. Default 1 hour. */
  readonly jobTimeoutMs?: number;
  /** Longest silence between two body chunks of a read or write. Default 60,000 ms. */
  readonly bodyTimeoutMs?: number;
  /** Keep-alive connections per worker. Default 16. */
  readonly connections?: number;
}

type Method = 'GET' | 'PUT' | 'POST';

interface CallSpec {
  readonly method: Method;
  readonly route: string;
  readonly query?: Record<string, string | number | undefined>;
  readonly json?: unknown;
  readonly body?: Readable;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal | undefined;
  readonly headersTimeout?: number;
}

type ResponseData = Awaited<ReturnType<Pool['request']>>;

export class RemoteFileSystem implements StrataFileSystem {
  readonly baseUrl: string;
  readonly #pool: Pool;
  readonly #token: string | undefined;
  /** The discovered token, looked up on the first call (undefined: none published). */
  #discovered: Promise<string | undefined> | undefined;
  readonly #requestTimeoutMs: number;
  readonly #jobTimeoutMs: number;
  readonly #bodyTimeoutMs: number;

  constructor(workerBaseUrl: string, options: RemoteFileSystemOptions = {}) {
    let url: URL;
    try {
      url = new URL(workerBaseUrl);
    } catch (err) {
      throw new StrataError('INVALID_ARGUMENT', `worker address is not a URL: ${workerBaseUrl}`, {
        cause: err,
      });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `worker address must be http(s)://host:port, got ${workerBaseUrl}`,
      );
    }
    this.baseUrl = url.origin;
    this.#token = options.token;
    if (options.token === undefined && options.discoverToken === false)
      this.#discovered = Promise.resolve(undefined);
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#jobTimeoutMs = options.jobTimeoutMs ?? 3_600_000;
    this.#bodyTimeoutMs = options.bodyTimeoutMs ?? 60_000;
    this.#pool = new Pool(url.origin, {
      connections: options.connections ?? 16,
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      headersTimeout: this.#requestTimeoutMs,
      bodyTimeout: this.#bodyTimeoutMs,
      keepAliveTimeout: 30_000,
      // --ca-file / STRATA_CA_FILE (loaded by connect() and the CLI); else Node's CA list.
      connect: clientConnectOptions(),
    });
  }

  async close(): Promise<void> {
    if (!this.#pool.closed) await this.#pool.close();
  }

  /**
   * Ends every call in flight with `reason` (a worker that left the cluster: its callers fail
   * over now instead of waiting out their deadlines) and closes the connections.
   */
  async destroy(reason: Error): Promise<void> {
    if (!this.#pool.destroyed) await this.#pool.destroy(reason);
  }

  // ---- metadata ------------------------------------------------------------------------------

  /** Calls issued in the same event-loop turn share one status-batch request (status-batcher.ts). */
  async status(path: string, options: SyncOption = {}): Promise<FileInfo> {
    return this.#statuses.status(path, options.syncIntervalMs, options.signal);
  }

  readonly #statuses = new StatusBatcher({
    one: (path, syncIntervalMs, signal) =>
      this.#json({ method: 'GET', route: 'status', query: { path, syncIntervalMs }, signal }),
    many: async (paths, syncIntervalMs) => {
      const res = await this.#call({
        method: 'POST',
        route: 'status-batch',
        json: syncIntervalMs === undefined ? { paths } : { paths, syncIntervalMs },
      });
      if (res.statusCode >= 400) {
        const err = await errorFrom(res);
        // A worker from before status-batch: "no RPC POST …" (400 INVALID_ARGUMENT).
        if (err.code === 'INVALID_ARGUMENT' && err.message.startsWith('no RPC ')) return undefined;
        throw err;
      }
      let answer: { results?: unknown };
      try {
        answer = (await res.body.json()) as { results?: unknown };
      } catch (err) {
        throw transportError(err, 'status-batch response');
      }
      if (!Array.isArray(answer.results))
        throw new StrataError('INTERNAL', `status-batch on ${this.baseUrl} answered no results`);
      return answer.results as StatusBatchResult[];
    },
  });

  async list(path: string, options: SyncOption = {}): Promise<FileInfo[]> {
    return this.#json({
      method: 'GET',
      route: 'list',
      query: { path, syncIntervalMs: options.syncIntervalMs },
      signal: options.signal,
    });
  }

  async listPage(path: string, options: ListPageOptions = {}): Promise<ListPage> {
    const { startAfter, limit } = checkListPage(options);
    return this.#json({
      method: 'GET',
      route: 'listPage',
      query: { path, startAfter, limit, syncIntervalMs: options.syncIntervalMs },
      signal: options.signal,
    });
  }

  async delete(path: string, options: DeleteOptions = {}): Promise<void> {
    await this.#json({
      method: 'POST',
      route: 'delete',
      json: { path, recursive: options.recursive === true },
      signal: options.signal,
    });
  }

  async mkdir(path: string, options: CallOptions = {}): Promise<void> {
    await this.#json({ method: 'POST', route: 'mkdir', json: { path }, signal: options.signal });
  }

  async rename(from: string, to: string, options: CallOptions = {}): Promise<void> {
    await this.#json({ method: 'POST', route: 'rename', json: { from, to }, signal: options.signal });
  }

  async mount(path: string, uri: string, options: MountOptions & CallOptions = {}): Promise<MountInfo> {
    const { signal, ...mountOptions } = options;
    return this.#json({ method: 'POST', route: 'mount', json: { path, uri, options: mountOptions }, signal });
  }

  async unmount(path: string, options: CallOptions = {}): Promise<void> {
    await this.#json({ method: 'POST', route: 'unmount', json: { path }, signal: options.signal });
  }

  async invalidate(path: string, options: InvalidateOptions = {}): Promise<void> {
    await this.#json({
      method: 'POST',
      route: 'invalidate',
      json: { path, tree: options.tree === true },
      signal: options.signal,
    });
  }

  async mounts(options: CallOptions = {}): Promise<MountInfo[]> {
    return this.#json({ method: 'GET', route: 'mounts', signal: options.signal });
  }

  async load(path: string, options: CallOptions = {}): Promise<JobSummary> {
    return this.#json({
      method: 'POST',
      route: 'load',
      json: { path },
      headersTimeout: this.#jobTimeoutMs,
      signal: options.signal,
    });
  }

  async free(path: string, options: CallOptions = {}): Promise<JobSummary> {
    return this.#json({
      method: 'POST',
      route: 'free',
      json: { path },
      headersTimeout: this.#jobTimeoutMs,
      signal: options.signal,
    });
  }

  async pin(path: string, pinned: boolean, options: CallOptions = {}): Promise<void> {
    await this.#json({ method: 'POST', route: 'pin', json: { path, pinned }, signal: options.signal });
  }

  async setTtl(
    path: string,
    ttlMs: number | null,
    action?: 'free' | 'delete',
    options: CallOptions = {},
  ): Promise<void> {
    await this.#json({ method: 'POST', route: 'ttl', json: { path, ttlMs, action }, signal: options.signal });
  }

  async du(path: string, options: CallOptions = {}): Promise<UsageSummary> {
    return this.#json({
      method: 'GET',
      route: 'du',
      query: { path },
      headersTimeout: this.#jobTimeoutMs,
      signal: options.signal,
    });
  }

  async report(options: CallOptions = {}): Promise<ClusterReport> {
    return this.#json({ method: 'GET', route: 'report', signal: options.signal });
  }

  async cachedBytesOf(items: readonly CacheProbeItem[], options: CallOptions = {}): Promise<number[]> {
    return this.#json({ method: 'POST', route: 'cached', json: { items }, signal: options.signal });
  }

  /** One batch on this worker (`options.worker` is for routing clients and is not sent). */
  async jobBatch(request: JobBatchRequest, options: JobBatchCallOptions = {}): Promise<JobBatchResult[]> {
    const answer = await this.#json<{ results?: unknown }>({
      method: 'POST',
      route: 'job-batch',
      json: { op: request.op, paths: request.paths, options: request.options ?? {} },
      headersTimeout: this.#jobTimeoutMs,
      signal: options.signal,
    });
    if (!Array.isArray(answer.results) || answer.results.length !== request.paths.length) {
      throw new StrataError(
        'INTERNAL',
        `job-batch on ${this.baseUrl} answered ${Array.isArray(answer.results) ? answer.results.length : 'no'} results for ${request.paths.length} paths`,
      );
    }
    return answer.results as JobBatchResult[];
  }

  /** The status and page files of a path (GET locate; client-path.ts caches and uses them). */
  async locate(path: string, options: CallOptions = {}): Promise<PageLocation> {
    return this.#json({ method: 'GET', route: 'locate', query: { path }, signal: options.signal });
  }

  /** Reports bytes this client read from the worker's page files itself (counted as hits). */
  async shortCircuitHits(hits: readonly { mount: string; bytes: number }[]): Promise<void> {
    await this.#json({ method: 'POST', route: 'short-circuit-hits', json: { hits } });
  }

  /**
   * The worker's change stream (GET watch): NDJSON lines (WatchLine) until `signal` aborts or
   * the connection breaks. A worker without the route answers INVALID_ARGUMENT "no RPC …".
   */
  async watch(signal: AbortSignal): Promise<Readable> {
    const res = await this.#call({ method: 'GET', route: 'watch', signal });
    if (res.statusCode !== 200) throw await errorFrom(res);
    return res.body;
  }

  // ---- data ----------------------------------------------------------------------------------

  /**
   * The returned stream errors (UNAVAILABLE) when the connection breaks mid-body or the body is
   * shorter or longer than its content-length, so a truncated file never looks complete.
   */
  async read(path: string, options: ReadOptions = {}): Promise<Readable> {
    const res = await this.#call({
      method: 'GET',
      route: 'read',
      query: { path, offset: options.offset, length: options.length, readType: options.readType },
      signal: options.signal,
    });
    if (res.statusCode !== 200) throw await errorFrom(res);
    const header = res.headers['content-length'];
    const expected = typeof header === 'string' ? Number(header) : undefined;
    const checker = new LengthCheck(expected, path);
    // Not stream.pipeline: it would destroy the body on our consumer's error without a code.
    res.body.on('error', (err) => checker.destroy(transportError(err, `reading ${path}`)));
    checker.on('close', () => {
      if (!res.body.destroyed) res.body.destroy();
    });
    const fingerprint = res.headers['x-strata-fingerprint'];
    return Object.assign(res.body.pipe(checker), {
      ...(expected === undefined ? {} : { contentLength: expected }),
      ...(typeof fingerprint === 'string' ? { fingerprint: decodeURIComponent(fingerprint) } : {}),
    });
  }

  async write(path: string, source: Readable, options: WriteOptions = {}): Promise<FileInfo> {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (options.size !== undefined) headers['content-length'] = String(options.size);
    return this.#json({
      method: 'PUT',
      route: 'write',
      query: {
        path,
        writeType: options.writeType,
        size: options.size,
        ...encryptionQuery(options.encryption),
      },
      body: source,
      headers,
      signal: options.signal,
    });
  }

  // ---- transport -----------------------------------------------------------------------------

  async #json<T>(spec: CallSpec): Promise<T> {
    const res = await this.#call(spec);
    if (res.statusCode >= 400) throw await errorFrom(res);
    if (res.statusCode === 204) {
      await res.body.dump();
      return undefined as T;
    }
    try {
      return (await res.body.json()) as T;
    } catch (err) {
      throw transportError(err, `${spec.route} response`);
    }
  }

  async #discover(): Promise<string | undefined> {
    const file = await discoverTokenFile(this.baseUrl);
    return file === undefined ? undefined : readTokenFile(file).catch(() => undefined);
  }

  async #call(spec: CallSpec): Promise<ResponseData> {
    if (spec.signal) throwIfAborted(spec.signal);
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    const headers: Record<string, string> = { ...spec.headers };
    this.#discovered ??= this.#token === undefined ? this.#discover() : Promise.resolve(undefined);
    const token = this.#token ?? (await this.#discovered);
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    // The S3 or FUSE request this call serves: the worker logs it with its own lines.
    const requestId = currentRequestId();
    if (requestId !== undefined) headers[REQUEST_ID_HEADER] = requestId;
    let body: string | Readable | undefined = spec.body;
    if (spec.json !== undefined) {
      body = JSON.stringify(spec.json);
      headers['content-type'] = 'application/json';
    }
    try {
      return await this.#pool.request({
        origin: this.baseUrl,
        path: `/rpc/v1/${spec.route}${qs ? `?${qs}` : ''}`,
        method: spec.method,
        headers,
        body: body ?? null,
        signal: spec.signal ?? null,
        headersTimeout: spec.headersTimeout ?? this.#requestTimeoutMs,
        bodyTimeout: this.#bodyTimeoutMs,
      });
    } catch (err) {
      if (spec.signal?.aborted) throw abortError(spec.signal);
      throw transportError(err, `${spec.method} ${spec.route} on ${this.baseUrl}`);
    }
  }
}

/** Counts bytes on the way through and fails when the total differs from content-length. */
class LengthCheck extends Transform {
  #seen = 0;
  constructor(
    private readonly expected: number | undefined,
    private readonly path: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.expected !== undefined && this.#seen !== this.expected) {
      cb(new StrataError('UNAVAILABLE', `read of ${this.path} got ${this.#seen} of ${this.expected} bytes`));
    } else cb();
  }
}

/** Rebuilds the server's StrataError from `{"error":{code,message,details}}`. */
export async function errorFrom(res: ResponseData): Promise<StrataError> {
  let text = '';
  try {
    text = await res.body.text();
  } catch {
    // the status alone still says something
  }
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    const e = parsed.error;
    if (e && isErrorCode(e.code)) {
      const details =
        typeof e.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : {};
      return new StrataError(e.code, typeof e.message === 'string' ? e.message : e.code, { details });
    }
  } catch {
    // not our JSON: fall through to the status
  }
  return new StrataError(
    codeForStatus(res.statusCode),
    `worker answered HTTP ${res.statusCode}: ${text.slice(0, 200)}`,
  );
}

function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'PERMISSION_DENIED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 400) return 'INVALID_ARGUMENT';
  if (status === 502 || status === 503) return 'UNAVAILABLE';
  if (status === 504) return 'TIMEOUT';
  return 'INTERNAL';
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);

/** Transport failures: deadlines → TIMEOUT (connect → UNAVAILABLE), aborts → CANCELLED, else UNAVAILABLE. */
export function transportError(err: unknown, what: string): StrataError {
  if (err instanceof StrataError) return err;
  if (isAbortError(err)) return new StrataError('CANCELLED', `${what}: cancelled`, { cause: err });
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new StrataError('UNAVAILABLE', `${what}: connect timed out`, { cause: err });
  }
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) {
    return new StrataError('TIMEOUT', `${what}: ${message}`, { cause: err });
  }
  // A plain request to a TLS port is closed unanswered: say what that usually means.
  const hint =
    tlsFailureHint(err) ??
    (code === 'UND_ERR_SOCKET' && what.includes('http://')
      ? 'if the server runs with --tls-cert, its address is https://'
      : undefined);
  return new StrataError('UNAVAILABLE', `${what}: ${message}${hint === undefined ? '' : ` (${hint})`}`, {
    cause: err,
  });
}
