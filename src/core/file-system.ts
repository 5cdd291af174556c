import type { Readable } from 'node:stream';

/** A namespace entry: a file, or a directory (a real one or a prefix of keys in an object store). */
export type EntryType = 'file' | 'directory';

/**
 * The file-system API every front end uses (CLI, S3 gateway, FUSE, applications). The worker
 * implements it in-process (worker/file-system.ts); RemoteFileSystem implements it over the worker
 * RPC. It lives in core because both sides use it: the worker (below the client) implements it and
 * every front end (above the client) calls it; src/client/types.ts re-exports it as the client's API.
 * Paths are namespace paths ("/sales/2024/a.parquet"); errors are StrataError.
 */

export const READ_TYPES = ['CACHE', 'NO_CACHE', 'CACHE_PROMOTE'] as const;
export type ReadType = (typeof READ_TYPES)[number];
export const WRITE_TYPES = ['MUST_CACHE', 'CACHE_THROUGH', 'THROUGH', 'ASYNC_THROUGH'] as const;
export type WriteType = (typeof WRITE_TYPES)[number];

export interface FileInfo {
  readonly path: string;
  readonly name: string;
  readonly type: EntryType;
  readonly size: number;
  readonly mtimeMs: number;
  readonly etag?: string;
  readonly fingerprint: string;
  /** Bytes of this file in the cache, and their share of the file (0–100). */
  readonly cachedBytes: number;
  readonly cachedPercent: number;
  readonly pinned: boolean;
  readonly ttlMs?: number;
  readonly ttlAction?: 'free' | 'delete';
  readonly persistence: 'PERSISTED' | 'TO_BE_PERSISTED' | 'NOT_PERSISTED';
  /** The mount point that holds it. */
  readonly mount: string;
}

export interface MountOptions {
  readonly readOnly?: boolean;
  /** When every owning worker fails, clients may read this mount's store directly. Default false. */
  readonly fallbackToUfs?: boolean;
  /** -1 trust the cache, 0 check the store on every access, N ms maximum staleness. Default -1? see DEFAULT_SYNC_INTERVAL_MS. */
  readonly syncIntervalMs?: number;
  readonly writeType?: WriteType;
  /** Connector options (endpoint, region, credentials…). Secrets are masked when shown. */
  readonly options?: Readonly<Record<string, string>>;
}

export interface MountInfo {
  readonly path: string;
  /** Store URI with credentials removed. */
  readonly uri: string;
  readonly readOnly: boolean;
  readonly fallbackToUfs: boolean;
  readonly syncIntervalMs: number;
  readonly writeType: WriteType;
  /** Connector options with secrets masked as "****". */
  readonly options: Readonly<Record<string, string>>;
}

/**
 * Every method takes an AbortSignal: aborting it (a client that went away, a shutdown, a
 * deadline) stops the call down to the under-store request it is waiting on, and the call
 * rejects with CANCELLED (TIMEOUT when the signal carries a TimeoutError reason).
 */
export interface CallOptions {
  readonly signal?: AbortSignal;
}

export interface SyncOption extends CallOptions {
  /** Overrides the mount's sync interval for this call. */
  readonly syncIntervalMs?: number;
}

/** Entries a listing page holds unless the caller asks for fewer, and the most it may ask for. */
export const DEFAULT_LIST_PAGE = 1000;
export const MAX_LIST_PAGE = 10_000;

export interface ListPageOptions extends SyncOption {
  /** Children whose names sort after this one (UTF-8 byte order); absent or '': from the first. */
  readonly startAfter?: string;
  /** Most entries in the page: 1..MAX_LIST_PAGE, default DEFAULT_LIST_PAGE. */
  readonly limit?: number;
}

/** One page of a directory's children. */
export interface ListPage {
  /** Direct children sorted by name (UTF-8 byte order), as list() has them. Never mutate. */
  readonly entries: readonly FileInfo[];
  /** Present when more children follow: the last entry's name, to pass as the next startAfter. */
  readonly nextStartAfter?: string;
}

export interface InvalidateOptions extends CallOptions {
  /** Also forget everything cached below the path (a directory deleted or renamed elsewhere). */
  readonly tree?: boolean;
}

export interface DeleteOptions extends CallOptions {
  /** Delete a directory and everything below it (otherwise it must be empty). */
  readonly recursive?: boolean;
}

export interface ReadOptions {
  readonly offset?: number;
  readonly length?: number;
  readonly readType?: ReadType;
  readonly signal?: AbortSignal;
}

/**
 * Server-side encryption a write asks the under-store to apply (S3's SSE-S3 / SSE-KMS, passed on
 * as the store's own request headers). No key material: the store holds and applies the keys.
 */
export type StoreEncryption =
  | { readonly mode: 'AES256' }
  | {
      readonly mode: 'aws:kms' | 'aws:kms:dsse';
      /** The store's KMS key id or ARN; absent: the store's default key. */
      readonly kmsKeyId?: string;
      /** x-amz-server-side-encryption-context as the client sent it (base64 JSON). */
      readonly context?: string;
      readonly bucketKeyEnabled?: boolean;
    };

export const STORE_ENCRYPTION_MODES = ['AES256', 'aws:kms', 'aws:kms:dsse'] as const;

export interface WriteOptions {
  readonly writeType?: WriteType;
  readonly size?: number;
  /**
   * Encrypt in the store (THROUGH and CACHE_THROUGH writes only: a staged write would keep the
   * plaintext on the worker's disk until it is persisted). A store that cannot encrypt refuses it
   * (UNSUPPORTED) and nothing is written.
   */
  readonly encryption?: StoreEncryption;
  readonly signal?: AbortSignal;
}

export interface JobSummary {
  readonly files: number;
  readonly bytes: number;
}

export interface UsageSummary {
  readonly files: number;
  readonly directories: number;
  readonly bytes: number;
  readonly cachedBytes: number;
}

export interface TierReport {
  readonly tier: string;
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly pages: number;
  readonly evictions: number;
}

export interface WorkerReport {
  readonly id: string;
  readonly address: string;
  readonly state: 'ACTIVE' | 'DRAINING' | 'LOST';
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly hitRatio: number;
  readonly tiers: readonly TierReport[];
  readonly startedAtMs: number;
  readonly version: string;
}

export interface ClusterReport {
  readonly version: string;
  readonly registry: string;
  readonly mounts: readonly MountInfo[];
  readonly workers: readonly WorkerReport[];
  readonly pendingPersists: number;
}

/** One file whose cached bytes are asked for: its path and the fingerprint the caller saw. */
export interface CacheProbeItem {
  readonly path: string;
  readonly fingerprint: string;
}

/** A worker that owns a path (primary first in a list). */
export interface WorkerLocation {
  readonly id: string;
  readonly address: string;
}

/** What peekFile answers: a small file's status and all its bytes. */
export interface PeekedFile {
  readonly info: FileInfo;
  readonly data: Buffer;
}

/** What a per-owner job batch does to each of its paths (StrataFileSystem.jobBatch). */
export const JOB_BATCH_OPS = ['load', 'free', 'persist'] as const;
export type JobBatchOp = (typeof JOB_BATCH_OPS)[number];
/** Most paths one jobBatch call carries. */
export const MAX_JOB_BATCH_PATHS = 1024;

/** Paths in one status-batch RPC at most (a client batches the stats issued in one event-loop turn). */
export const MAX_STATUS_BATCH_PATHS = 1000;

export interface JobBatchOptions {
  /** load: refresh the status (and a directory's listing) from the store only; no bytes. */
  readonly metadataOnly?: boolean;
  /** load: 'skipped' when the file is 100 % cached already. */
  readonly skipIfCached?: boolean;
  /** load: re-read every cached page checking its checksum; a bad one is dropped and re-fetched. */
  readonly verify?: boolean;
}

export interface JobBatchRequest {
  readonly op: JobBatchOp;
  readonly paths: readonly string[];
  readonly options?: JobBatchOptions;
}

/** How one path of a batch went: done or skipped with its figures, or the error it met. */
export type JobBatchResult =
  | {
      readonly path: string;
      readonly outcome: 'done' | 'skipped';
      /** The file's size (0 for a directory). */
      readonly bytes: number;
      /** Bytes this call read from the under-store for the path (load; 0 otherwise). */
      readonly storeBytesRead: number;
      /** Share of the file in this worker's cache afterwards (0–100). */
      readonly cachedPercent: number;
      /** load with verify: cached pages found bad (corrupt or missing) and fetched again. */
      readonly repairedPages?: number;
    }
  | {
      readonly path: string;
      readonly error: { readonly code: string; readonly message: string; readonly retryable: boolean };
    };

/** `worker`: the id of the worker a routing client sends the batch to (default: the primary owner of paths[0]). */
export type JobBatchCallOptions = CallOptions & { readonly worker?: string };

/** Largest range readBuffer serves. */
export const MAX_READ_BUFFER = 1024 * 1024;

/**
 * Implementations: WorkerFileSystem (in process), RemoteFileSystem (one worker over the RPC),
 * ClusterFileSystem (routes each path to its owners). All of them pass one contract suite
 * (src/client/contract.ts).
 *
 * The optional methods at the end are capabilities: an implementation that offers one declares
 * the method, and a caller checks for it (`fs.readBuffer !== undefined`) instead of casting.
 */
export interface StrataFileSystem {
  status(path: string, options?: SyncOption): Promise<FileInfo>;
  /** Direct children sorted by path. The array may be shared with other callers: never mutate it. */
  list(path: string, options?: SyncOption): Promise<readonly FileInfo[]>;
  /**
   * One page of the direct children: what list() returns, from `startAfter` on, at most `limit`.
   * Memory on every layer is bounded by the page, not by the directory (list() is the
   * convenience for small directories). A bad limit or startAfter is INVALID_ARGUMENT.
   */
  listPage(path: string, options?: ListPageOptions): Promise<ListPage>;
  read(path: string, options?: ReadOptions): Promise<Readable>;
  write(path: string, source: Readable, options?: WriteOptions): Promise<FileInfo>;
  delete(path: string, options?: DeleteOptions): Promise<void>;
  mkdir(path: string, options?: CallOptions): Promise<void>;
  rename(from: string, to: string, options?: CallOptions): Promise<void>;

  mount(path: string, uri: string, options?: MountOptions & CallOptions): Promise<MountInfo>;
  unmount(path: string, options?: CallOptions): Promise<void>;
  mounts(options?: CallOptions): Promise<MountInfo[]>;

  /** Reads files into the cache (recursively for directories). */
  load(path: string, options?: CallOptions): Promise<JobSummary>;
  /** Drops cached pages (not pinned ones) of a file or tree. */
  free(path: string, options?: CallOptions): Promise<JobSummary>;
  pin(path: string, pinned: boolean, options?: CallOptions): Promise<void>;
  /** ttlMs null removes the TTL. */
  setTtl(
    path: string,
    ttlMs: number | null,
    action?: 'free' | 'delete',
    options?: CallOptions,
  ): Promise<void>;
  du(path: string, options?: CallOptions): Promise<UsageSummary>;
  report(options?: CallOptions): Promise<ClusterReport>;

  // ---- capabilities (optional) ----

  /**
   * Like read(), but the bytes at once, for callers that answer with a single write (the S3
   * gateway's small GETs): no stream, no pipe. `options.length` is required, at most
   * MAX_READ_BUFFER. Offered by the in-process worker.
   */
  readBuffer?(path: string, options: ReadOptions & { length: number }): Promise<Buffer>;
  /**
   * A small file's status and bytes answered synchronously when all of it is cached and fresh;
   * undefined whenever that does not hold (then use status() and readBuffer()/read()). Offered by
   * the in-process worker.
   */
  peekFile?(path: string, maxBytes: number): PeekedFile | undefined;
  /**
   * Cached bytes of given files (path + the fingerprint the caller saw; 0 for unknown ones),
   * without touching the store. Workers answer it; the cluster client asks each file's owner,
   * since a listing comes from the directory's owner.
   */
  cachedBytesOf?(items: readonly CacheProbeItem[], options?: CallOptions): Promise<number[]>;
  /**
   * Forgets what is cached about a path — its status and pages, and its parent's listing; with
   * `tree`, everything below it — so the next access asks the store. Workers offer it (the cluster
   * client sends it to the workers a change concerns: the owner of the parent directory, or all of
   * them for a directory); it is also the hook for event-driven invalidation.
   */
  invalidate?(path: string, options?: InvalidateOptions): Promise<void>;
  /**
   * Runs one job operation on each path on ONE worker (the scheduler groups paths by owner):
   * bounded concurrency, one result per path in the request's order, a path's failure is its
   * result (never the batch's); the call itself fails only on bad input (INVALID_ARGUMENT), an
   * unreachable worker (UNAVAILABLE) or its signal. load: read into the cache, 'done' only when
   * 100 % cached (else a CACHE_FULL result); free: drop cached pages; persist: upload a pending
   * ASYNC_THROUGH/MUST_CACHE write now and answer once it is durable ('skipped': none pending).
   * Offered by workers; the cluster client routes the whole request to `options.worker`.
   */
  jobBatch?(request: JobBatchRequest, options?: JobBatchCallOptions): Promise<JobBatchResult[]>;
  /** The workers that own a path, primary first. Offered by clients that route. */
  location?(path: string): readonly WorkerLocation[];
}
