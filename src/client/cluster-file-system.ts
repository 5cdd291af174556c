import type { Readable } from 'node:stream';
import { throwIfAborted } from '../core/abort.js';
import { StrataError } from '../core/errors.js';
import { MAX_READ_BUFFER } from '../core/file-system.js';
import { parseJobBatchRequest } from '../core/job-batch.js';
import type { MountRecord } from '../core/mounts.js';
import { normalizePath, parentOf } from '../core/paths.js';
import type { Unwatch, WorkerInfo } from '../registry/registry.js';
import { ClusterPath, type ClusterPathOptions, type ClusterPathStats } from './cluster-path.js';
import { OwnerRouter, type RoutingOptions, workerFailed } from './owner-router.js';
import { DirectStoreReader, resumableRead } from './resumable-read.js';
import type {
  CacheProbeItem,
  CallOptions,
  ClusterReport,
  DeleteOptions,
  FileInfo,
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
  WorkerReport,
  WriteOptions,
} from './types.js';
import { checkListPage } from './types.js';

/** Where the client learns the live workers (and, for direct store reads, the mount records). */
export interface WorkerDirectory {
  listWorkers(): Promise<WorkerInfo[]>;
  watchWorkers?(onChange: (workers: WorkerInfo[]) => void): Promise<Unwatch>;
  /** Mount records with credentials, for fallbackToUfs reads. */
  loadMounts?(): Promise<MountRecord[]>;
  close?(): Promise<void>;
}

export interface ClusterOptions extends RoutingOptions, ClusterPathOptions {}

/** Listings larger than this keep the directory owner's cached figures (one probe per owner). */
const MAX_PROBED_ENTRIES = 10_000;

/**
 * The client side of the cluster: routes each path to the workers that own it on a consistent-
 * hash ring built from the registry's live workers (weighted by capacity), and follows
 * membership changes. A dead or stuck owner is skipped for the next replica; a read that breaks
 * midway resumes at the same byte on the next replica, after checking the content fingerprint is
 * the same; when every owner fails and the mount allows it, the store is read directly.
 * Operations on whole trees (load, free, du, pin) walk the tree and send each file to its owner.
 */
export class ClusterFileSystem implements StrataFileSystem {
  private readonly router: OwnerRouter;
  private readonly direct: DirectStoreReader;
  /** Client metadata cache and short-circuit reads (cluster-path.ts). */
  private readonly fast: ClusterPath;
  private unwatch: Unwatch | undefined;

  private constructor(
    private readonly directory: WorkerDirectory,
    options: ClusterOptions,
  ) {
    this.router = new OwnerRouter(options);
    this.direct = new DirectStoreReader(directory.loadMounts?.bind(directory));
    this.fast = new ClusterPath(this.router, options);
  }

  private setWorkers(workers: WorkerInfo[]): void {
    this.router.setWorkers(workers);
    this.fast.setWorkers(this.router.liveWorkers());
  }

  static async open(directory: WorkerDirectory, options: ClusterOptions = {}): Promise<ClusterFileSystem> {
    const fs = new ClusterFileSystem(directory, options);
    fs.setWorkers(await directory.listWorkers());
    if (directory.watchWorkers) fs.unwatch = await directory.watchWorkers((w) => fs.setWorkers(w));
    return fs;
  }

  /** Reports the short-circuit hit bytes not reported yet to their workers (close() does too). */
  flushShortCircuitHits(): Promise<void> {
    return this.fast.flushHits();
  }

  async close(): Promise<void> {
    this.unwatch?.();
    await this.fast.flushHits();
    this.fast.close();
    await this.router.close();
    await this.direct.close();
    await this.directory.close?.();
  }

  /** What the client metadata cache and short-circuit reads did so far (cluster-path.ts). */
  fastPathStats(): ClusterPathStats {
    return this.fast.stats();
  }

  /** The workers that own a path, primary first (what `strata fs location` prints). */
  location(path: string): WorkerInfo[] {
    return this.router.location(path);
  }

  liveWorkers(): WorkerInfo[] {
    return this.router.liveWorkers();
  }

  /** Without a sync interval of its own, from the client metadata cache when it holds the path. */
  async status(path: string, options: SyncOption = {}): Promise<FileInfo> {
    if (options.syncIntervalMs === undefined) {
      const cached = await this.fast.status(path, options.signal);
      if (cached !== undefined) return cached;
    }
    return this.router.routed(path, (fs) => fs.status(path, options), options.signal);
  }

  /**
   * A directory's listing comes from the directory's owner, but each file is cached on its own
   * owner: ask those (one batch each, no store access) for the cached bytes shown.
   */
  async list(path: string, options: SyncOption = {}): Promise<FileInfo[]> {
    return this.withCachedBytes(await this.listRaw(path, options), options);
  }

  /** A page from the directory's owner, with each file's cached bytes from its own owner (as list()). */
  async listPage(path: string, options: ListPageOptions = {}): Promise<ListPage> {
    checkListPage(options);
    const page = await this.router.routed(path, (fs) => fs.listPage(path, options), options.signal);
    const entries = await this.withCachedBytes([...page.entries], options);
    return page.nextStartAfter === undefined ? { entries } : { entries, nextStartAfter: page.nextStartAfter };
  }

  private async withCachedBytes(entries: FileInfo[], options: CallOptions): Promise<FileInfo[]> {
    const files = entries.filter((e) => e.type === 'file');
    if (files.length === 0 || files.length > MAX_PROBED_ENTRIES || this.router.size <= 1) return entries;
    const byOwner = new Map<string, { worker: WorkerInfo; at: number[] }>();
    entries.forEach((e, i) => {
      const owner = e.type === 'file' ? this.router.tryOrder(e.path)[0] : undefined;
      if (!owner) return;
      const group = byOwner.get(owner.id) ?? { worker: owner, at: [] };
      group.at.push(i);
      byOwner.set(owner.id, group);
    });
    const patched = [...entries];
    await Promise.all(
      [...byOwner.values()].map(async ({ worker, at }) => {
        try {
          const bytes = await this.router.client(worker).cachedBytesOf(
            at.map((i) => ({ path: entries[i]!.path, fingerprint: entries[i]!.fingerprint })),
            options,
          );
          at.forEach((i, k) => {
            const e = entries[i]!;
            const cached = bytes[k] ?? 0;
            patched[i] = {
              ...e,
              cachedBytes: cached,
              cachedPercent: e.size > 0 ? Math.floor((cached * 100) / e.size) : 100,
            };
          });
        } catch {
          // Keep the directory owner's view rather than fail the listing.
        }
      }),
    );
    throwIfAborted(options.signal);
    return patched;
  }

  private listRaw(path: string, options: SyncOption = {}): Promise<FileInfo[]> {
    return this.router.routed(path, (fs) => fs.list(path, options), options.signal);
  }

  /** Asks each file's owner (one batch per owner) how much of it is cached. */
  async cachedBytesOf(items: readonly CacheProbeItem[], options: CallOptions = {}): Promise<number[]> {
    throwIfAborted(options.signal);
    const out = new Array<number>(items.length).fill(0);
    const byOwner = new Map<string, { worker: WorkerInfo; at: number[] }>();
    items.forEach((item, i) => {
      const owner = this.router.tryOrder(normalizePath(item.path))[0];
      if (!owner) return;
      const group = byOwner.get(owner.id) ?? { worker: owner, at: [] };
      group.at.push(i);
      byOwner.set(owner.id, group);
    });
    await Promise.all(
      [...byOwner.values()].map(async ({ worker, at }) => {
        const bytes = await this.router.client(worker).cachedBytesOf(
          at.map((i) => items[i]!),
          options,
        );
        at.forEach((i, k) => {
          out[i] = bytes[k] ?? 0;
        });
      }),
    );
    return out;
  }

  /**
   * Sends the whole batch to ONE worker: `options.worker` (an id: e.g. the 2nd owner, for
   * replicas) or else the first owner of `paths[0]` in try order (the primary, unless it just
   * failed a call). The caller groups paths by owner (location()). An unknown or dead worker is
   * UNAVAILABLE, left to the caller to re-group and retry: the batch is never re-sent elsewhere
   * here, since that would cache the files on a worker that was not asked to hold them.
   */
  async jobBatch(request: JobBatchRequest, options: JobBatchCallOptions = {}): Promise<JobBatchResult[]> {
    throwIfAborted(options.signal);
    parseJobBatchRequest(request); // bad input is refused here, before any worker is picked
    if (request.paths.length === 0 && options.worker === undefined) return [];
    let worker: WorkerInfo | undefined;
    if (options.worker !== undefined) {
      worker = this.router.liveWorkers().find((w) => w.id === options.worker);
      if (worker === undefined) {
        throw new StrataError('UNAVAILABLE', `worker ${options.worker} is not a live worker of the cluster`, {
          details: { worker: options.worker },
        });
      }
    } else {
      worker = this.ownerOf(request.paths[0]);
      if (worker === undefined) throw new StrataError('UNAVAILABLE', 'no live workers in the cluster');
    }
    try {
      return await this.router
        .client(worker)
        .jobBatch(request, options.signal ? { signal: options.signal } : {});
    } catch (err) {
      if (workerFailed(err)) this.router.suspect(worker);
      throw err;
    }
  }

  /** The worker to try first for a path; a malformed one goes anywhere, to get its own INVALID_PATH result. */
  private ownerOf(path: unknown): WorkerInfo | undefined {
    try {
      return this.router.tryOrder(typeof path === 'string' ? path : '/')[0];
    } catch {
      return this.router.tryOrder('/')[0];
    }
  }

  /** From the owner's page files when it runs on this host (short-circuit), else over the RPC. */
  async read(path: string, options: ReadOptions = {}): Promise<Readable> {
    throwIfAborted(options.signal);
    const local = await this.fast.read(path, options, (offset, length) =>
      resumableRead(this.router, this.direct, path, { ...options, offset, length }),
    );
    return local ?? resumableRead(this.router, this.direct, path, options);
  }

  /** A range in one buffer: from co-located page files when it can, else the RPC read collected. */
  async readBuffer(path: string, options: ReadOptions & { length: number }): Promise<Buffer> {
    throwIfAborted(options.signal);
    if (!Number.isSafeInteger(options.length) || options.length < 0 || options.length > MAX_READ_BUFFER)
      throw new StrataError('INVALID_ARGUMENT', `readBuffer reads 0..${MAX_READ_BUFFER} bytes`);
    if (options.readType === undefined || options.readType === 'CACHE') {
      const local = await this.fast.readBuffer(path, options.offset ?? 0, options.length, options.signal);
      if (local !== undefined) return local;
    }
    const chunks: Buffer[] = [];
    for await (const c of await resumableRead(this.router, this.direct, path, options))
      chunks.push(c as Buffer);
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  async write(path: string, source: Readable, options: WriteOptions = {}): Promise<FileInfo> {
    throwIfAborted(options.signal);
    const owners = this.router.tryOrder(path);
    let last: unknown = new StrataError('UNAVAILABLE', 'no live workers in the cluster');
    for (const owner of owners) {
      try {
        const info = await this.router.client(owner).write(path, source, options);
        await this.changed(path, false);
        return info;
      } catch (err) {
        // A body already partly sent cannot be replayed: only an unreached owner is skipped.
        if (!workerFailed(err)) throw err;
        this.router.suspect(owner);
        if (source.readableDidRead) throw err;
        last = err;
      }
    }
    throw last;
  }

  async delete(path: string, options: DeleteOptions = {}): Promise<void> {
    await this.router.routed(path, (fs) => fs.delete(path, options), options.signal);
    // Without recursive only a file or an empty directory can go: nothing cached below it.
    await this.changed(path, options.recursive === true);
  }

  async mkdir(path: string, options: CallOptions = {}): Promise<void> {
    await this.router.routed(path, (fs) => fs.mkdir(path, options), options.signal);
    await this.changed(path, false);
  }

  async rename(from: string, to: string, options: CallOptions = {}): Promise<void> {
    const moved = await this.status(from, { ...options, syncIntervalMs: 0 });
    await this.router.routed(from, (fs) => fs.rename(from, to, options), options.signal);
    await this.changed(from, moved.type === 'directory');
    await this.changed(to, false);
  }

  /**
   * After `path` changed on its owner, which already forgot its own cached metadata: the owners
   * of its parent directory forget the parent's listing (they cache it; a default sync interval
   * of -1 would trust it forever), and for a directory (`tree`) every worker forgets what it
   * cached below it — the files below are owned all over the ring. Best effort: a worker that
   * does not answer is skipped (it is being replaced, or its lease expires and its cache goes).
   */
  private async changed(path: string, tree: boolean): Promise<void> {
    const p = normalizePath(path);
    // This client sees its own change at once; others hear of it from the owner (GET watch).
    this.fast.forget(p, tree);
    if (p === '/') return;
    const writer = this.router.tryOrder(p)[0]?.id;
    const targets = tree
      ? this.router.liveWorkers()
      : this.router.location(parentOf(p)).filter((w) => w.id !== writer);
    await Promise.allSettled(targets.map((w) => this.router.client(w).invalidate(p, { tree })));
  }

  async mount(path: string, uri: string, options: MountOptions & CallOptions = {}): Promise<MountInfo> {
    const info = await this.router.anyWorker((fs) => fs.mount(path, uri, options), options.signal);
    this.fast.forget(path, true);
    return info;
  }

  async unmount(path: string, options: CallOptions = {}): Promise<void> {
    await this.router.anyWorker((fs) => fs.unmount(path, options), options.signal);
    this.fast.forget(path, true);
  }

  mounts(options: CallOptions = {}): Promise<MountInfo[]> {
    return this.router.anyWorker((fs) => fs.mounts(options), options.signal);
  }

  /** Every file at or below `path`, listing each directory on its owner. */
  private async *files(path: string, options: CallOptions): AsyncGenerator<FileInfo> {
    const root = await this.status(path, options);
    if (root.type === 'file') {
      yield root;
      return;
    }
    const stack = [root.path];
    while (stack.length > 0) {
      for (const e of await this.listRaw(stack.pop()!, options)) {
        if (e.type === 'directory') stack.push(e.path);
        else yield e;
      }
    }
  }

  private async eachFile(
    path: string,
    options: CallOptions,
    fn: (file: FileInfo) => Promise<void>,
    concurrency = 8,
  ): Promise<void> {
    const running = new Set<Promise<void>>();
    for await (const f of this.files(path, options)) {
      const p = fn(f).finally(() => running.delete(p));
      running.add(p);
      if (running.size >= concurrency) await Promise.race(running);
    }
    await Promise.all(running);
  }

  async load(path: string, options: CallOptions = {}): Promise<JobSummary> {
    // Cached bytes change: this client's cached statuses of the tree must not hide it.
    this.fast.forget(path, true);
    let files = 0;
    let bytes = 0;
    await this.eachFile(path, options, async (f) => {
      const r = await this.router.routed(f.path, (fs) => fs.load(f.path, options), options.signal);
      files += r.files;
      bytes += r.bytes;
    });
    this.fast.forget(path, true);
    return { files, bytes };
  }

  async free(path: string, options: CallOptions = {}): Promise<JobSummary> {
    let files = 0;
    let bytes = 0;
    await this.eachFile(path, options, async (f) => {
      const r = await this.router.routed(f.path, (fs) => fs.free(f.path, options), options.signal);
      files += r.files;
      bytes += r.bytes;
    });
    this.fast.forget(path, true);
    return { files, bytes };
  }

  async pin(path: string, pinned: boolean, options: CallOptions = {}): Promise<void> {
    await this.eachFile(path, options, (f) =>
      this.router.routed(f.path, (fs) => fs.pin(f.path, pinned, options), options.signal),
    );
    this.fast.forget(path, true);
  }

  async setTtl(
    path: string,
    ttlMs: number | null,
    action: 'free' | 'delete' = 'free',
    options: CallOptions = {},
  ): Promise<void> {
    try {
      await this.setTtlOnOwners(path, ttlMs, action, options);
    } finally {
      this.fast.forget(path, true);
    }
  }

  private async setTtlOnOwners(
    path: string,
    ttlMs: number | null,
    action: 'free' | 'delete',
    options: CallOptions,
  ): Promise<void> {
    const root = await this.status(path, options);
    if (root.type === 'file' || action === 'delete' || ttlMs === null) {
      await this.router.routed(path, (fs) => fs.setTtl(path, ttlMs, action, options), options.signal);
      if (root.type === 'file' || ttlMs !== null) return;
    }
    // Freeing a tree frees pages on every file's owner, so each owner gets the TTL for its files.
    await this.eachFile(path, options, (f) =>
      this.router.routed(f.path, (fs) => fs.setTtl(f.path, ttlMs, action, options), options.signal),
    );
  }

  async du(path: string, options: CallOptions = {}): Promise<UsageSummary> {
    let files = 0;
    let bytes = 0;
    let cachedBytes = 0;
    let directories = 0;
    const root = await this.status(path, options);
    if (root.type === 'directory') {
      const stack = [root.path];
      directories++;
      while (stack.length > 0) {
        for (const e of await this.listRaw(stack.pop()!, options)) {
          if (e.type === 'directory') {
            directories++;
            stack.push(e.path);
          }
        }
      }
    }
    // Cached bytes live on each file's owner, not on the owner of its directory.
    await this.eachFile(path, options, async (f) => {
      const s = await this.status(f.path, options);
      files++;
      bytes += s.size;
      cachedBytes += s.cachedBytes;
    });
    return { files, directories, bytes, cachedBytes };
  }

  async report(options: CallOptions = {}): Promise<ClusterReport> {
    throwIfAborted(options.signal);
    const workers = this.liveWorkers();
    const reports = await Promise.allSettled(workers.map((w) => this.router.client(w).report(options)));
    const merged: WorkerReport[] = [];
    let base: ClusterReport | undefined;
    let pending = 0;
    reports.forEach((r, i) => {
      const w = workers[i]!;
      if (r.status === 'fulfilled') {
        base ??= r.value;
        pending += r.value.pendingPersists;
        merged.push(...r.value.workers.map((x) => ({ ...x, state: w.state })));
      } else {
        merged.push({
          id: w.id,
          address: w.address,
          state: 'LOST',
          capacityBytes: w.capacityBytes,
          usedBytes: 0,
          hitRatio: 0,
          tiers: [],
          startedAtMs: w.startedAtMs,
          version: w.version,
        });
      }
    });
    throwIfAborted(options.signal);
    if (!base) throw new StrataError('UNAVAILABLE', 'no worker answered');
    return { ...base, workers: merged.sort((a, b) => (a.id < b.id ? -1 : 1)), pendingPersists: pending };
  }
}
