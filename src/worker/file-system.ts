import type { Readable } from 'node:stream';
import type { PageStore } from '../cache/page-store.js';
import { throwIfAborted } from '../core/abort.js';
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
  PeekedFile,
  ReadOptions,
  StrataFileSystem,
  SyncOption,
  UsageSummary,
  WriteOptions,
} from '../core/file-system.js';
import { checkListPage } from '../core/list-pages.js';
import type { MountRecord } from '../core/mounts.js';
import type { PageLocation } from '../core/page-location.js';
import { isWithin, normalizePath } from '../core/paths.js';
import type { MetaStore } from '../meta/meta-store.js';
import { CacheOps } from './cache-ops.js';
import { ChangeFeed, observedMetaStore } from './change-feed.js';
import { FileInfoBuilder } from './file-info.js';
import { JobBatchRunner } from './job-batch.js';
import { MetadataSync } from './metadata-sync.js';
import type { WorkerMetrics } from './metrics.js';
import type { MountTable } from './mount-table.js';
import { NamespaceOps } from './namespace-ops.js';
import { PageLocator } from './page-locator.js';
import { PageReader } from './page-reader.js';
import { Persister } from './persister.js';
import { ReadPath } from './read-path.js';
import type { StagingArea } from './staging.js';
import { type WorkerIdentity, WorkerReporter } from './worker-report.js';
import { WritePath } from './write-path.js';

export interface WorkerFileSystemOptions extends WorkerIdentity {
  readonly mounts: MountTable;
  readonly meta: MetaStore;
  readonly pages: PageStore;
  readonly staging: StagingArea;
  readonly metrics: WorkerMetrics;
  /** Pages fetched ahead of a sequential reader. Default 4. */
  readonly readaheadPages?: number;
  /** Wait before persisting an ASYNC_THROUGH write (Alluxio's persist wait time). Default 0. */
  readonly persistDelayMs?: number;
  /** Paths of a job batch handled at once. Default 64 (DEFAULT_JOB_BATCH_CONCURRENCY). */
  readonly jobBatchConcurrency?: number;
  /** How often TTLs are checked. Default 10 s. */
  readonly ttlCheckIntervalMs?: number;
  /** A data miss re-checks the store's fingerprint if the last check is older than this. Default 1 s. */
  readonly missRevalidateMs?: number;
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
  /** Where status changes are reported (clients caching statuses watch it). Default: a new feed. */
  readonly changes?: ChangeFeed;
}

/**
 * The worker's implementation of the file-system API, composed of parts with one job each:
 *
 * - MetadataSync (metadata-sync.ts): statuses and listings under the per-mount sync policy;
 * - ReadPath (read-path.ts): ranges from the page cache, staging or the store (via PageReader);
 * - WritePath (write-path.ts): the four write types; staging → Persister hand-off;
 * - NamespaceOps (namespace-ops.ts): mkdir, delete, rename, mount, unmount;
 * - CacheOps (cache-ops.ts): load, free, pin, TTL, du, the cached-bytes probe;
 * - JobBatchRunner (job-batch.ts): the scheduler's per-owner batches (load, free, persist, verify);
 * - FileInfoBuilder (file-info.ts) and WorkerReporter (worker-report.ts): what callers see.
 *
 * Every store call goes through the mount table's instrumented stores (timed, deadline, signal).
 * This class only normalises the API surface and owns the start/stop lifecycle.
 */
export class WorkerFileSystem implements StrataFileSystem {
  readonly reader: PageReader;
  readonly persister: Persister;
  private readonly sync: MetadataSync;
  private readonly infos: FileInfoBuilder;
  private readonly reads: ReadPath;
  private readonly writes: WritePath;
  private readonly tree: NamespaceOps;
  private readonly cache: CacheOps;
  private readonly reporter: WorkerReporter;
  private readonly batches: JobBatchRunner;
  private readonly locator: PageLocator;
  /** Every status or attribute change of this worker, numbered (GET /rpc/v1/watch). */
  readonly changes: ChangeFeed;
  private ttlTimer: NodeJS.Timeout | undefined;
  private readonly log: (event: string, fields: Record<string, unknown>) => void;

  constructor(private readonly o: WorkerFileSystemOptions) {
    const log = o.log ?? (() => undefined);
    this.log = log;
    const { mounts, pages, staging, metrics } = o;
    this.changes = o.changes ?? new ChangeFeed();
    // Every part writes metadata through this view, so no change escapes the feed.
    const meta = observedMetaStore(o.meta, this.changes);
    this.reader = new PageReader(pages, metrics, o.readaheadPages ?? 4, (err) =>
      log('cache_error', { error: String(err) }),
    );
    this.persister = new Persister({ meta, staging, mounts, metrics, delayMs: o.persistDelayMs ?? 0, log });
    this.sync = new MetadataSync({
      mounts,
      meta,
      pages,
      staged: this.persister,
      metrics,
      missRevalidateMs: o.missRevalidateMs ?? 1000,
    });
    this.infos = new FileInfoBuilder(pages, this.persister);
    const sync = this.sync;
    const infos = this.infos;
    const persister = this.persister;
    this.reads = new ReadPath({
      sync,
      reader: this.reader,
      staging,
      mounts,
      meta,
      persister,
      metrics,
      infos,
    });
    this.writes = new WritePath({ sync, mounts, meta, pages, staging, persister, metrics, infos });
    this.tree = new NamespaceOps({ sync, mounts, meta, pages, persister, writes: this.writes, log });
    this.cache = new CacheOps({
      sync,
      mounts,
      meta,
      pages,
      persister,
      reads: this.reads,
      tree: this.tree,
      log,
    });
    this.batches = new JobBatchRunner({
      status: (path, options) => this.status(path, options),
      list: (path, options) => this.list(path, options),
      read: (path, options) => this.reads.read(path, options),
      loadWhole: (path, options) => this.reads.loadWhole(path, options),
      free: (path, options) => this.cache.free(path, options),
      persister,
      sync,
      pages,
      ...(o.jobBatchConcurrency === undefined ? {} : { concurrency: o.jobBatchConcurrency }),
    });
    this.reporter = new WorkerReporter(o, pages, metrics, persister);
    this.locator = new PageLocator({ sync, meta, pages, infos, changes: this.changes });
    pages.onEvict = (tier) => metrics.evictions.inc({ tier });
    pages.onWriteFailure = (tier, reason, error) => {
      metrics.pageWriteFailures.inc({ tier, reason });
      log('page_write_failed', { tier, reason, error });
    };
    pages.onCapacityChange = (tier, capacityBytes, quotaBytes) =>
      log('tier_capacity', { tier, capacityBytes, quotaBytes, reason: 'disk space' });
  }

  async start(): Promise<void> {
    await this.persister.recover();
    for await (const [path, attrs] of this.o.meta.allAttrs()) {
      if (attrs.pinned) {
        const rec = await this.o.meta.getStatus(path);
        if (rec?.cacheId) await this.o.pages.setPinned(rec.cacheId, true);
      }
    }
    const interval = this.o.ttlCheckIntervalMs ?? 10_000;
    this.ttlTimer = setInterval(() => {
      this.checkTtls().catch((err) => this.log('ttl_error', { error: String(err) }));
    }, interval);
    this.ttlTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.ttlTimer) clearInterval(this.ttlTimer);
    await this.persister.stop();
  }

  // ---- metadata ----

  async status(path: string, options: SyncOption = {}): Promise<FileInfo> {
    throwIfAborted(options.signal);
    const located = await this.sync.locate(normalizePath(path), options.syncIntervalMs, options.signal);
    // Attributes known without a read (most files have none: the store's filter says so) take
    // no promise: the stat hot path.
    const peeked = this.o.meta.peekAttrs?.(located.path);
    const attrs = peeked === undefined ? await this.o.meta.getAttrs(located.path) : (peeked ?? undefined);
    return this.infos.info(located.record, located.resolved?.mount.record.path ?? '/', attrs);
  }

  async list(path: string, options: SyncOption = {}): Promise<readonly FileInfo[]> {
    throwIfAborted(options.signal);
    const p = normalizePath(path);
    const records = await this.sync.listRecords(p, options.syncIntervalMs, options.signal);
    const mount = this.o.mounts.tryResolve(p)?.mount.record.path ?? '/';
    return this.infos.listing(p, records, mount, () => this.o.mounts.childMountPoints(p));
  }

  async listPage(path: string, options: ListPageOptions = {}): Promise<ListPage> {
    throwIfAborted(options.signal);
    const p = normalizePath(path);
    const page = checkListPage(options);
    const { records, more } = await this.sync.listPage(p, page, options.syncIntervalMs, options.signal);
    const mount = this.o.mounts.tryResolve(p)?.mount.record.path ?? '/';
    const points = new Set(this.o.mounts.childMountPoints(p));
    const entries = records.map((r) => this.infos.info(r, points.has(r.path) ? r.path : mount, undefined));
    const last = entries[entries.length - 1];
    return more && last ? { entries, nextStartAfter: last.name } : { entries };
  }

  /**
   * Bytes clients on this host read from this worker's page files themselves (short-circuit):
   * counted as cache hits of the mount, so the hit ratio covers every read of the cache.
   */
  countShortCircuitHits(mount: string, bytes: number): void {
    this.o.metrics.cacheHitBytes.inc({ mount }, bytes);
  }

  /** A path's status and the disk files of its pages (short-circuit reads; page-locator.ts). */
  locatePages(path: string, options: CallOptions = {}): Promise<PageLocation> {
    return this.locator.locate(path, options.signal);
  }

  // ---- data ----

  read(path: string, options?: ReadOptions): Promise<Readable> {
    return this.reads.read(path, options);
  }

  readBuffer(path: string, options: ReadOptions & { length: number }): Promise<Buffer> {
    return this.reads.readBuffer(path, options);
  }

  peekFile(path: string, maxBytes: number): PeekedFile | undefined {
    return this.reads.peekFile(path, maxBytes);
  }

  write(path: string, source: Readable, options?: WriteOptions): Promise<FileInfo> {
    return this.writes.write(path, source, options);
  }

  // ---- namespace ----

  mkdir(path: string, options?: CallOptions): Promise<void> {
    return this.tree.mkdir(path, options);
  }

  delete(path: string, options?: DeleteOptions): Promise<void> {
    return this.tree.delete(path, options);
  }

  rename(from: string, to: string, options?: CallOptions): Promise<void> {
    return this.tree.rename(from, to, options);
  }

  mount(path: string, uri: string, options?: MountOptions & CallOptions): Promise<MountInfo> {
    return this.mountsChanging(() => this.tree.mount(path, uri, options));
  }

  unmount(path: string, options?: CallOptions): Promise<void> {
    return this.mountsChanging(() => this.tree.unmount(path, options));
  }

  mounts(options?: CallOptions): Promise<MountInfo[]> {
    return this.tree.mounts(options);
  }

  invalidate(path: string, options?: InvalidateOptions): Promise<void> {
    return this.tree.invalidate(path, options);
  }

  /** Applies a mount-table snapshot from the registry; frees what removed mounts had cached. */
  applyMounts(records: readonly MountRecord[]): Promise<void> {
    return this.mountsChanging(() => this.tree.applyMounts(records));
  }

  /** Runs a mount-table change, then reports every mount point added, removed or replaced. */
  private async mountsChanging<T>(change: () => Promise<T>): Promise<T> {
    const before = new Map(this.o.mounts.list().map((m) => [m.record.path, m.id]));
    try {
      return await change();
    } finally {
      const after = new Map(this.o.mounts.list().map((m) => [m.record.path, m.id]));
      for (const [path, id] of before) if (after.get(path) !== id) this.changes.changed(path, true);
      for (const [path, id] of after) if (before.get(path) !== id) this.changes.changed(path, true);
    }
  }

  // ---- cache management ----

  load(path: string, options?: CallOptions): Promise<JobSummary> {
    return this.cache.load(path, options);
  }

  free(path: string, options?: CallOptions): Promise<JobSummary> {
    return this.cache.free(path, options);
  }

  pin(path: string, pinned: boolean, options?: CallOptions): Promise<void> {
    return this.cache.pin(path, pinned, options);
  }

  setTtl(
    path: string,
    ttlMs: number | null,
    action?: 'free' | 'delete',
    options?: CallOptions,
  ): Promise<void> {
    return this.cache.setTtl(path, ttlMs, action, options);
  }

  /** Applies expired TTLs (also run every ttlCheckIntervalMs); returns how many expired. */
  checkTtls(now?: number): Promise<number> {
    return this.cache.checkTtls(now);
  }

  du(path: string, options?: CallOptions): Promise<UsageSummary> {
    return this.cache.du(path, options);
  }

  cachedBytesOf(items: readonly CacheProbeItem[], options?: CallOptions): Promise<number[]> {
    return this.cache.cachedBytesOf(items, options);
  }

  /** The scheduler's per-owner batch (job-batch.ts); `options.worker` only matters to routing clients. */
  jobBatch(request: JobBatchRequest, options: JobBatchCallOptions = {}): Promise<JobBatchResult[]> {
    return this.batches.run(request, options.signal ? { signal: options.signal } : {});
  }

  // ---- reports ----

  async report(options: CallOptions = {}): Promise<ClusterReport> {
    throwIfAborted(options.signal);
    return this.reporter.report(await this.mounts());
  }

  /** Refreshes the tier gauges (called before each scrape). */
  updateGauges(): void {
    this.reporter.updateGauges();
  }

  /** True when `p` lies in a mount (used by front ends to decide between NOT_FOUND and NOT_MOUNTED). */
  covers(p: string): boolean {
    return this.o.mounts.tryResolve(p) !== undefined || isWithin('/', p);
  }
}

/** Collects a Readable of Buffers into one Buffer (tests, small files). */
export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
