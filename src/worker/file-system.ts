import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { PageStore } from '../cache/page-store.js';
import { isStrataError, StrataError } from '../core/errors.js';
import type {
  CacheProbeItem,
  ClusterReport,
  FileInfo,
  JobSummary,
  MountInfo,
  MountOptions,
  ReadOptions,
  StrataFileSystem,
  SyncOption,
  UsageSummary,
  WriteOptions,
  WriteType,
} from '../core/file-system.js';
import { MAX_READ_BUFFER, READ_TYPES, WRITE_TYPES } from '../core/file-system.js';
import { mountInfo } from '../core/mounts.js';
import { baseName, isWithin, normalizePath, parentOf } from '../core/paths.js';
import type { FileAttrs, FileRecord, MetaStore } from '../meta/meta-store.js';
import { fingerprintOf, type UfsStatus } from '../ufs/under-store.js';
import type { WorkerMetrics } from './metrics.js';
import { type ActiveMount, MountTable, type Resolved } from './mount-table.js';
import { PageReader, type RangeRequest } from './page-reader.js';
import { Persister } from './persister.js';
import type { StagingArea } from './staging.js';

export interface WorkerFileSystemOptions {
  readonly id: string;
  readonly address: string;
  readonly registryUri: string;
  readonly version: string;
  readonly mounts: MountTable;
  readonly meta: MetaStore;
  readonly pages: PageStore;
  readonly staging: StagingArea;
  readonly metrics: WorkerMetrics;
  /** Pages fetched ahead of a sequential reader. Default 4. */
  readonly readaheadPages?: number;
  /** Wait before persisting an ASYNC_THROUGH write (Alluxio's persist wait time). Default 0. */
  readonly persistDelayMs?: number;
  /** How often TTLs are checked. Default 10 s. */
  readonly ttlCheckIntervalMs?: number;
  /** A data miss re-checks the store's fingerprint if the last check is older than this. Default 1 s. */
  readonly missRevalidateMs?: number;
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
  readonly startedAtMs?: number;
}

interface Located {
  readonly path: string;
  readonly record: FileRecord;
  readonly resolved: Resolved;
}

/** Listings known to be sorted (checked once per listing object the metadata store hands out). */
const sortedListings = new WeakSet<readonly FileRecord[]>();

function isSortedByPath(records: readonly FileRecord[]): boolean {
  if (sortedListings.has(records)) return true;
  for (let i = 1; i < records.length; i++) if (records[i - 1]!.path > records[i]!.path) return false;
  sortedListings.add(records);
  return true;
}

interface PreparedRead {
  readonly located: Located;
  readonly offset: number;
  readonly length: number;
  readonly readType: NonNullable<ReadOptions['readType']>;
}

const ROOT_RECORD = (path: string): FileRecord => ({
  path,
  type: 'directory',
  size: 0,
  mtimeMs: 0,
  fingerprint: 'mount',
  syncedAtMs: 0,
});

/**
 * The worker's implementation of the file-system API: namespace resolution, metadata cache with
 * the per-mount sync policy, the page-cached read path and the four write types.
 */
export class WorkerFileSystem implements StrataFileSystem {
  readonly reader: PageReader;
  readonly persister: Persister;
  private readonly verifiedAt = new Map<string, number>();
  private ttlTimer: NodeJS.Timeout | undefined;
  private readonly log: (event: string, fields: Record<string, unknown>) => void;

  /**
   * The last FileInfo[] per listed directory: returned again while the metadata store hands out
   * the same listing and no cached bytes or pins changed anywhere (a warm relist is O(1)).
   */
  private readonly listings = new Map<
    string,
    { records: readonly FileRecord[]; generation: number; mount: string; infos: FileInfo[] }
  >();

  constructor(private readonly o: WorkerFileSystemOptions) {
    this.log = o.log ?? (() => undefined);
    this.reader = new PageReader(o.pages, o.metrics, o.readaheadPages ?? 4, (err) =>
      this.log('cache_error', { error: String(err) }),
    );
    this.persister = new Persister({
      meta: o.meta,
      staging: o.staging,
      mounts: o.mounts,
      metrics: o.metrics,
      delayMs: o.persistDelayMs ?? 0,
      log: this.log,
      toRecord: (path, st, mount, cacheId) => this.toRecord(path, st, mount, cacheId),
    });
    o.pages.onEvict = (tier) => o.metrics.evictions.inc({ tier });
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

  /** Refreshes the tier gauges (called before each scrape). */
  updateGauges(): void {
    const stats = this.o.pages.stats();
    for (const t of stats.tiers) {
      this.o.metrics.usedBytes.set({ tier: t.tier }, t.usedBytes);
      this.o.metrics.capacityBytes.set({ tier: t.tier }, t.capacityBytes);
    }
    this.o.metrics.corruptPages.set(stats.corruptPages);
    this.o.metrics.pendingPersists.set(this.persister.pending);
  }

  // ---- metadata ----

  async status(path: string, options: SyncOption = {}): Promise<FileInfo> {
    const located = await this.locate(normalizePath(path), options.syncIntervalMs);
    return this.info(
      located.record,
      located.resolved?.mount.record.path ?? '/',
      await this.o.meta.getAttrs(located.path),
    );
  }

  async list(path: string, options: SyncOption = {}): Promise<FileInfo[]> {
    const p = normalizePath(path);
    const records = await this.listRecords(p, options.syncIntervalMs);
    const mount = this.o.mounts.tryResolve(p)?.mount.record.path ?? '/';
    const generation = this.o.pages.generation;
    const memo = this.listings.get(p);
    if (memo && memo.records === records && memo.generation === generation && memo.mount === mount)
      return memo.infos;
    // Children belong to the directory's mount, except those that are mount points themselves.
    const points = new Set(this.o.mounts.childMountPoints(p));
    // Frozen: the same array is handed to every caller until something changes.
    const infos = Object.freeze(
      records.map((r) => this.info(r, points.has(r.path) ? r.path : mount, undefined)),
    ) as FileInfo[];
    this.listings.delete(p);
    this.listings.set(p, { records, generation, mount, infos });
    if (this.listings.size > 64) this.listings.delete(this.listings.keys().next().value as string);
    return infos;
  }

  async mkdir(path: string): Promise<void> {
    const p = normalizePath(path);
    const r = this.writable(p);
    await this.timed(r.mount, 'mkdir', () => r.mount.store.mkdir(r.ufsPath));
    await this.o.meta.invalidate(p);
  }

  async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    const p = normalizePath(path);
    if (this.o.mounts.get(p) || this.o.mounts.mountsBelow(p).length > 0) {
      throw new StrataError('MOUNT_CONFLICT', `${p} is or contains a mount point; unmount first`);
    }
    const staged = this.persister.staged(p);
    if (staged) {
      await this.dropStaged(staged);
      return;
    }
    const r = this.writable(p);
    const located = await this.locate(p, 0);
    const stagedBelow = this.persister.stagedBelow(p);
    if (located.record.type === 'directory' && stagedBelow.length > 0 && !options.recursive) {
      throw new StrataError('DIRECTORY_NOT_EMPTY', `${p} is not empty`);
    }
    try {
      await this.timed(r.mount, 'delete', () =>
        r.mount.store.delete(r.ufsPath, options.recursive ? { recursive: true } : {}),
      );
    } catch (err) {
      // A directory that holds only not-yet-persisted files may not exist in the store yet.
      if (!(isStrataError(err, 'NOT_FOUND') && stagedBelow.length > 0)) throw err;
    }
    for (const s of stagedBelow) await this.dropStaged(s);
    if (located.record.cacheId) await this.o.pages.deleteFile(located.record.cacheId);
    await this.o.meta.deleteTree(p);
    await this.o.meta.invalidate(p);
  }

  async rename(from: string, to: string): Promise<void> {
    const a = normalizePath(from);
    const b = normalizePath(to);
    const ra = this.writable(a);
    const rb = this.writable(b);
    if (ra.mount !== rb.mount)
      throw new StrataError(
        'UNSUPPORTED',
        `rename across mounts (${ra.mount.record.path} → ${rb.mount.record.path}); use cp and rm`,
      );
    if (this.o.mounts.get(a) || this.o.mounts.mountsBelow(a).length > 0)
      throw new StrataError('MOUNT_CONFLICT', `${a} is or contains a mount point`);
    if (this.persister.staged(a) || this.persister.stagedBelow(a).length > 0) {
      throw new StrataError('UNSUPPORTED', `${a} has writes not yet persisted; retry after they are`);
    }
    const src = await this.locate(a, 0);
    if (await this.exists(b)) throw new StrataError('ALREADY_EXISTS', `${b} already exists`);
    await this.timed(ra.mount, 'rename', () => ra.mount.store.rename(ra.ufsPath, rb.ufsPath));
    if (src.record.cacheId) await this.o.pages.deleteFile(src.record.cacheId);
    await this.o.meta.deleteTree(a);
    await this.o.meta.invalidate(a);
    await this.o.meta.invalidate(b);
  }

  // ---- data ----

  /** Validates a read and looks its file up (revalidated before any store read). */
  private async prepareRead(path: string, options: ReadOptions): Promise<PreparedRead> {
    const p = normalizePath(path);
    const readType = options.readType ?? 'CACHE';
    if (!READ_TYPES.includes(readType))
      throw new StrataError('INVALID_ARGUMENT', `read type must be one of ${READ_TYPES.join(', ')}`);
    let located = await this.locate(p, undefined);
    if (located.record.type !== 'file') throw new StrataError('IS_A_DIRECTORY', `${p} is a directory`);
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > located.record.size) {
      throw new StrataError(
        'INVALID_RANGE',
        `offset ${offset} is outside ${p} (${located.record.size} bytes)`,
      );
    }
    const length = Math.min(options.length ?? Number.MAX_SAFE_INTEGER, located.record.size - offset);
    if (!Number.isSafeInteger(length) || length < 0)
      throw new StrataError('INVALID_RANGE', `bad length ${options.length}`);
    const cacheId =
      located.record.cacheId ?? this.cacheId(located.resolved.mount, p, located.record.fingerprint);
    if (!located.record.staging && !this.reader.isCached(cacheId, offset, length)) {
      located = await this.revalidate(located);
      if (located.record.type !== 'file') throw new StrataError('IS_A_DIRECTORY', `${p} is a directory`);
    }
    return { located, offset, length, readType };
  }

  async read(path: string, options: ReadOptions = {}): Promise<Readable> {
    const r = await this.prepareRead(path, options);
    return this.streamRecord(r.located, r.offset, r.length, r.readType);
  }

  async readBuffer(path: string, options: ReadOptions & { length: number }): Promise<Buffer> {
    if (!Number.isSafeInteger(options.length) || options.length < 0 || options.length > MAX_READ_BUFFER)
      throw new StrataError('INVALID_ARGUMENT', `readBuffer reads 0..${MAX_READ_BUFFER} bytes`);
    const r = await this.prepareRead(path, options);
    return this.reader.readBuffer(this.rangeRequest(r.located, r.offset, r.length, r.readType));
  }

  /**
   * A small file's status and bytes when both are at hand — status cached and fresh by the
   * mount's sync policy, attributes known, every page in memory, nothing staged — answered
   * synchronously; undefined whenever any of that does not hold (then status()/readBuffer()).
   */
  peekFile(path: string, maxBytes: number): { info: FileInfo; data: Buffer } | undefined {
    const peekStatus = this.o.meta.peekStatus;
    const peekAttrs = this.o.meta.peekAttrs;
    if (peekStatus === undefined || peekAttrs === undefined) return undefined;
    let p: string;
    try {
      p = normalizePath(path);
    } catch {
      return undefined; // the slow path reports the error
    }
    const resolved = this.o.mounts.tryResolve(p);
    if (resolved === undefined || resolved.ufsPath === '/' || this.persister.staged(p)) return undefined;
    const record = peekStatus.call(this.o.meta, p);
    if (record?.type !== 'file' || record.staging || record.size > maxBytes) return undefined;
    const mount = resolved.mount.record.path;
    if (!this.fresh(record, resolved.mount.record.syncIntervalMs)) return undefined;
    const attrs = peekAttrs.call(this.o.meta, p);
    if (attrs === undefined) return undefined;
    const cacheId = record.cacheId ?? this.cacheId(resolved.mount, p, record.fingerprint);
    const data =
      record.size === 0
        ? Buffer.alloc(0)
        : this.reader.peekBuffer(cacheId, record.size, 0, record.size, mount);
    if (data === undefined) return undefined;
    this.o.metrics.metadataHits.inc({ mount });
    return { info: this.info(record, mount, attrs ?? undefined), data };
  }

  async write(path: string, source: Readable, options: WriteOptions = {}): Promise<FileInfo> {
    const p = normalizePath(path);
    const r = this.writable(p);
    if (this.o.mounts.get(p) || p === '/') throw new StrataError('IS_A_DIRECTORY', `${p} is a mount point`);
    const writeType: WriteType = options.writeType ?? r.mount.record.writeType;
    if (!WRITE_TYPES.includes(writeType))
      throw new StrataError('INVALID_ARGUMENT', `write type must be one of ${WRITE_TYPES.join(', ')}`);
    const existing = await this.tryLocate(p, -1);
    if (existing?.record.type === 'directory') throw new StrataError('IS_A_DIRECTORY', `${p} is a directory`);
    const mountPath = r.mount.record.path;
    let record: FileRecord;
    if (writeType === 'THROUGH') {
      const st = await this.timed(r.mount, 'write', () =>
        r.mount.store.write(r.ufsPath, source, this.sizeOpt(options)),
      );
      this.o.metrics.ufsWriteBytes.inc({ mount: mountPath }, st.size);
      record = this.toRecord(p, st, r.mount);
    } else if (writeType === 'CACHE_THROUGH') {
      const staged = await this.o.staging.receive(source, false, options.signal);
      try {
        const st = await this.timed(r.mount, 'write', () =>
          r.mount.store.write(r.ufsPath, this.o.staging.read(staged.file, 0, staged.size), {
            size: staged.size,
          }),
        );
        this.o.metrics.ufsWriteBytes.inc({ mount: mountPath }, st.size);
        record = this.toRecord(p, st, r.mount);
        await this.importPages(staged.file, staged.size, record.cacheId!);
      } finally {
        await this.o.staging.remove(staged.file);
      }
    } else {
      // MUST_CACHE and ASYNC_THROUGH: acknowledged once the data and its journal record are durable.
      const staged = await this.o.staging.receive(source, true, options.signal);
      const now = Date.now();
      const fingerprint = `${staged.size}:${now}:local-${staged.id}`;
      record = {
        path: p,
        type: 'file',
        size: staged.size,
        mtimeMs: now,
        fingerprint,
        syncedAtMs: now,
        cacheId: this.cacheId(r.mount, p, fingerprint),
        staging: staged.file,
      };
      if (existing?.record.staging) await this.dropStaged(existing.record);
      // Cache the pages and set the state before the journal record: once recorded, the persister
      // may upload and remove the staging file at any moment. A crash before the record leaves
      // an unacknowledged staging file, which the next start sweeps.
      await this.importPages(staged.file, staged.size, record.cacheId!);
      await this.o.meta.setAttrs(p, {
        persistence: writeType === 'ASYNC_THROUGH' ? 'TO_BE_PERSISTED' : 'NOT_PERSISTED',
      });
      await this.persister.add(record, writeType === 'ASYNC_THROUGH');
    }
    if (existing?.record.cacheId && existing.record.cacheId !== record.cacheId)
      await this.o.pages.deleteFile(existing.record.cacheId);
    if (!record.staging) {
      await this.o.meta.invalidate(p);
      await this.o.meta.putStatus(record);
      await this.o.meta.setAttrs(p, { persistence: undefined });
    }
    return this.info(record, mountPath, await this.o.meta.getAttrs(p));
  }

  // ---- namespace ----

  async mount(path: string, uri: string, options: MountOptions = {}): Promise<MountInfo> {
    const record = MountTable.validate(path, uri, options);
    await this.o.mounts.add(record, async (p) => {
      const parent = this.o.mounts.tryResolve(p);
      if (!parent) return;
      const existing = await this.tryLocate(p, 0).catch(() => undefined);
      if (existing && existing.record.type === 'file')
        throw new StrataError('MOUNT_CONFLICT', `${p} is a file in ${parent.mount.record.path}`);
    });
    await this.o.meta.deleteTree(record.path);
    await this.o.meta.invalidate(record.path);
    this.log('mounted', { path: record.path, uri: mountInfo(record).uri });
    return mountInfo(record);
  }

  async unmount(path: string): Promise<void> {
    const p = normalizePath(path);
    if (this.persister.stagedBelow(p).length > 0 && this.persister.pendingBelow(p) > 0) {
      throw new StrataError('MOUNT_CONFLICT', `${p} has ASYNC_THROUGH writes not yet persisted`);
    }
    const mount = await this.o.mounts.remove(p);
    for (const s of this.persister.stagedBelow(p)) await this.dropStaged(s);
    await this.o.meta.deleteTree(p);
    await this.o.meta.invalidate(p);
    const victims = [...this.o.pages.files()].filter((id) => id.endsWith(mount.id));
    for (const id of victims) await this.o.pages.deleteFile(id);
    this.log('unmounted', { path: p, freedFiles: victims.length });
  }

  /** Cached bytes of files identified by path and fingerprint; 0 for unknown ones. */
  async cachedBytesOf(items: readonly CacheProbeItem[]): Promise<number[]> {
    return items.map(({ path, fingerprint }) => {
      const r = this.o.mounts.tryResolve(path);
      if (!r) return 0;
      const staged = this.persister.staged(path);
      const id =
        staged?.fingerprint === fingerprint && staged.cacheId
          ? staged.cacheId
          : this.cacheId(r.mount, path, fingerprint);
      return this.o.pages.cachedBytes(id);
    });
  }

  /** Applies a mount-table snapshot from the registry; frees what removed mounts had cached. */
  async applyMounts(records: Parameters<MountTable['apply']>[0]): Promise<void> {
    for (const gone of await this.o.mounts.apply(records)) {
      if (this.o.mounts.get(gone.record.path)?.id === gone.id) continue;
      await this.o.meta.deleteTree(gone.record.path);
      for (const id of [...this.o.pages.files()].filter((x) => x.endsWith(gone.id)))
        await this.o.pages.deleteFile(id);
      this.log('mount_removed', { path: gone.record.path });
    }
  }

  async mounts(): Promise<MountInfo[]> {
    return this.o.mounts.list().map((m) => mountInfo(m.record));
  }

  // ---- cache management ----

  async load(path: string): Promise<JobSummary> {
    let files = 0;
    let bytes = 0;
    for await (const rec of this.walk(normalizePath(path))) {
      const stream = await this.read(rec.path, { readType: 'CACHE' });
      for await (const chunk of stream) bytes += (chunk as Buffer).length;
      files++;
    }
    return { files, bytes };
  }

  async free(path: string): Promise<JobSummary> {
    let files = 0;
    let bytes = 0;
    for await (const rec of this.walk(normalizePath(path))) {
      if (!rec.cacheId || this.o.pages.isPinned(rec.cacheId)) continue;
      const freed = await this.o.pages.deleteFile(rec.cacheId);
      if (freed > 0) files++;
      bytes += freed;
    }
    return { files, bytes };
  }

  async pin(path: string, pinned: boolean): Promise<void> {
    const p = normalizePath(path);
    const root = await this.locate(p, undefined);
    await this.o.meta.setAttrs(p, { pinned: pinned || undefined });
    if (root.record.type === 'file') {
      await this.o.pages.setPinned(this.recordCacheId(root), pinned);
      return;
    }
    for await (const rec of this.walk(p)) {
      await this.o.meta.setAttrs(rec.path, { pinned: pinned || undefined });
      if (rec.cacheId) await this.o.pages.setPinned(rec.cacheId, pinned);
    }
  }

  async setTtl(path: string, ttlMs: number | null, action: 'free' | 'delete' = 'free'): Promise<void> {
    const p = normalizePath(path);
    await this.locate(p, undefined);
    if (ttlMs === null) {
      await this.o.meta.setAttrs(p, { ttlMs: undefined, ttlAction: undefined, ttlStartMs: undefined });
      return;
    }
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 0)
      throw new StrataError('INVALID_ARGUMENT', `TTL must be a non-negative number of ms`);
    if (action !== 'free' && action !== 'delete')
      throw new StrataError('INVALID_ARGUMENT', 'TTL action must be free or delete');
    await this.o.meta.setAttrs(p, { ttlMs, ttlAction: action, ttlStartMs: Date.now() });
  }

  /** Applies expired TTLs: `free` drops cached pages, `delete` removes the path from its store. */
  async checkTtls(now = Date.now()): Promise<number> {
    const expired: Array<[string, FileAttrs]> = [];
    for await (const [path, attrs] of this.o.meta.allAttrs()) {
      if (attrs.ttlMs !== undefined && (attrs.ttlStartMs ?? 0) + attrs.ttlMs <= now)
        expired.push([path, attrs]);
    }
    for (const [path, attrs] of expired) {
      try {
        if (attrs.ttlAction === 'delete') {
          await this.delete(path, { recursive: true });
          await this.o.meta.deleteAttrs(path);
        } else {
          await this.o.meta.setAttrs(path, {
            ttlMs: undefined,
            ttlAction: undefined,
            ttlStartMs: undefined,
            pinned: undefined,
          });
          await this.pin(path, false).catch(() => undefined);
          await this.free(path);
        }
        this.log('ttl_expired', { path, action: attrs.ttlAction ?? 'free' });
      } catch (err) {
        if (isStrataError(err, 'NOT_FOUND') || isStrataError(err, 'NOT_MOUNTED'))
          await this.o.meta.deleteAttrs(path);
        else this.log('ttl_error', { path, error: String(err) });
      }
    }
    return expired.length;
  }

  async du(path: string): Promise<UsageSummary> {
    const p = normalizePath(path);
    let files = 0;
    let directories = 0;
    let bytes = 0;
    let cachedBytes = 0;
    const root = await this.locate(p, undefined);
    if (root.record.type === 'directory') directories++;
    for await (const rec of this.walk(p, () => directories++)) {
      files++;
      bytes += rec.size;
      if (rec.cacheId) cachedBytes += this.o.pages.cachedBytes(rec.cacheId);
    }
    return { files, directories, bytes, cachedBytes };
  }

  async report(): Promise<ClusterReport> {
    const stats = this.o.pages.stats();
    const hits = await sumCounter(this.o.metrics, 'strata_cache_hit_bytes_total');
    const misses = await sumCounter(this.o.metrics, 'strata_cache_miss_bytes_total');
    return {
      version: this.o.version,
      registry: this.o.registryUri,
      mounts: await this.mounts(),
      pendingPersists: this.persister.pending,
      workers: [
        {
          id: this.o.id,
          address: this.o.address,
          state: 'ACTIVE',
          capacityBytes: stats.tiers.reduce((a, t) => a + t.capacityBytes, 0),
          usedBytes: Math.max(0, ...stats.tiers.map((t) => t.usedBytes)),
          hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
          tiers: stats.tiers.map((t) => ({
            tier: t.tier,
            capacityBytes: t.capacityBytes,
            usedBytes: t.usedBytes,
            pages: t.pages,
            evictions: t.evictions,
          })),
          startedAtMs: this.o.startedAtMs ?? 0,
          version: this.o.version,
        },
      ],
    };
  }

  // ---- internals ----

  private sizeOpt(options: WriteOptions): { size?: number } {
    return options.size === undefined ? {} : { size: options.size };
  }

  private writable(p: string): Resolved {
    const r = this.o.mounts.resolve(p);
    if (r.mount.record.readOnly)
      throw new StrataError('READ_ONLY', `${r.mount.record.path} is mounted read-only`);
    return r;
  }

  private cacheId(mount: ActiveMount, path: string, fingerprint: string): string {
    // Hash first so page directories shard evenly; mount id last so unmount finds its pages.
    return createHash('sha256').update(`${path}\0${fingerprint}`).digest('base64url').slice(0, 22) + mount.id;
  }

  private recordCacheId(l: Located): string {
    return l.record.cacheId ?? this.cacheId(l.resolved.mount, l.path, l.record.fingerprint);
  }

  private toRecord(path: string, st: UfsStatus, mount: ActiveMount, cacheId?: string): FileRecord {
    const fingerprint = st.type === 'directory' ? 'dir' : fingerprintOf(st);
    const base = {
      path,
      type: st.type,
      size: st.size,
      mtimeMs: st.mtimeMs,
      fingerprint,
      syncedAtMs: Date.now(),
    };
    const withEtag = st.etag === undefined ? base : { ...base, etag: st.etag };
    return st.type === 'file'
      ? { ...withEtag, cacheId: cacheId ?? this.cacheId(mount, path, fingerprint) }
      : withEtag;
  }

  private fresh(rec: FileRecord, interval: number): boolean {
    if (interval < 0) return true;
    if (interval === 0) return false;
    return Date.now() - rec.syncedAtMs <= interval;
  }

  private async exists(p: string): Promise<boolean> {
    return (await this.tryLocate(p, 0)) !== undefined;
  }

  private async tryLocate(p: string, sync: number | undefined): Promise<Located | undefined> {
    try {
      return await this.locate(p, sync);
    } catch (err) {
      if (isStrataError(err, 'NOT_FOUND')) return undefined;
      throw err;
    }
  }

  /** Finds a path's record, consulting the store when the cached one is not fresh enough. */
  private async locate(p: string, syncOverride: number | undefined): Promise<Located> {
    const staged = this.persister.staged(p);
    const resolved = this.o.mounts.tryResolve(p);
    if (staged && resolved) return { path: p, record: staged, resolved };
    if (!resolved || (resolved.ufsPath === '/' && this.o.mounts.get(p))) {
      if (p === '/' || this.o.mounts.mountsBelow(p).length > 0 || this.o.mounts.get(p)) {
        return { path: p, record: ROOT_RECORD(p), resolved: resolved ?? this.anyResolved(p) };
      }
      throw new StrataError('NOT_MOUNTED', `no mount covers ${p}`, { details: { path: p } });
    }
    const interval = syncOverride ?? resolved.mount.record.syncIntervalMs;
    const mountLabel = { mount: resolved.mount.record.path };
    const cached = await this.o.meta.getStatus(p);
    if (cached && this.fresh(cached, interval)) {
      this.o.metrics.metadataHits.inc(mountLabel);
      return { path: p, record: cached, resolved };
    }
    this.o.metrics.metadataMisses.inc(mountLabel);
    let st: UfsStatus;
    try {
      st = await this.timed(resolved.mount, 'status', () => resolved.mount.store.status(resolved.ufsPath));
    } catch (err) {
      if (isStrataError(err, 'NOT_FOUND')) {
        if (cached) {
          await this.o.meta.invalidate(p);
          if (cached.cacheId) await this.o.pages.deleteFile(cached.cacheId);
        }
        if (this.o.mounts.mountsBelow(p).length > 0 || this.persister.stagedBelow(p).length > 0) {
          return { path: p, record: ROOT_RECORD(p), resolved };
        }
      }
      throw err;
    }
    const record = this.toRecord(
      p,
      st,
      resolved.mount,
      cached?.fingerprint === fingerprintOf(st) ? cached.cacheId : undefined,
    );
    if (cached && cached.fingerprint !== record.fingerprint) {
      await this.o.meta.invalidate(p); // the parent's listing shows the old size/mtime
      if (cached.cacheId) await this.o.pages.deleteFile(cached.cacheId);
    }
    await this.o.meta.putStatus(record);
    return { path: p, record, resolved };
  }

  /** Before reading missing pages from the store: make sure the cached fingerprint still holds. */
  private async revalidate(located: Located): Promise<Located> {
    const id = this.recordCacheId(located);
    const last = this.verifiedAt.get(id) ?? 0;
    if (Date.now() - last <= (this.o.missRevalidateMs ?? 1000) || located.record.type !== 'file')
      return located;
    const fresh = await this.locate(located.path, 0);
    if (this.verifiedAt.size > 10_000) this.verifiedAt.clear();
    this.verifiedAt.set(this.recordCacheId(fresh), Date.now());
    return fresh;
  }

  private anyResolved(p: string): Resolved {
    const first = this.o.mounts.list()[0];
    if (!first) throw new StrataError('NOT_MOUNTED', `nothing is mounted (looking up ${p})`);
    return { mount: first, ufsPath: '/' };
  }

  private async listRecords(p: string, syncOverride: number | undefined): Promise<FileRecord[]> {
    const dir = await this.locate(p, syncOverride);
    if (dir.record.type !== 'directory') throw new StrataError('NOT_A_DIRECTORY', `${p} is a file`);
    const resolved = this.o.mounts.tryResolve(p);
    const stored = resolved ? await this.listFromStore(p, resolved, syncOverride) : [];
    const points = this.o.mounts.childMountPoints(p);
    const staged = this.persister.stagedBelow(p);
    // The common case — nothing mounted or staged below — is the store's listing as it is (the
    // metadata store keeps it sorted by name): no copy for directories of 100,000s of entries.
    if (points.length === 0 && staged.length === 0 && isSortedByPath(stored)) return stored;
    const byName = new Map<string, FileRecord>();
    for (const r of stored) byName.set(baseName(r.path), r);
    for (const point of points) byName.set(baseName(point), ROOT_RECORD(point));
    for (const s of staged) {
      if (parentOf(s.path) === p) byName.set(baseName(s.path), s);
      else {
        const child = s.path.slice(p === '/' ? 1 : p.length + 1).split('/')[0]!;
        if (!byName.has(child)) byName.set(child, ROOT_RECORD(p === '/' ? `/${child}` : `${p}/${child}`));
      }
    }
    return [...byName.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  private async listFromStore(
    p: string,
    resolved: Resolved,
    syncOverride: number | undefined,
  ): Promise<FileRecord[]> {
    const interval = syncOverride ?? resolved.mount.record.syncIntervalMs;
    const label = { mount: resolved.mount.record.path };
    const cached = await this.o.meta.getListing(p);
    if (cached && this.fresh({ syncedAtMs: cached.syncedAtMs } as FileRecord, interval)) {
      this.o.metrics.metadataHits.inc(label);
      return cached.entries;
    }
    this.o.metrics.metadataMisses.inc(label);
    let entries: UfsStatus[];
    try {
      entries = await this.timed(resolved.mount, 'list', () =>
        resolved.mount.store.listAll(resolved.ufsPath),
      );
    } catch (err) {
      if (
        isStrataError(err, 'NOT_FOUND') &&
        (this.o.mounts.mountsBelow(p).length > 0 || this.persister.stagedBelow(p).length > 0)
      )
        return [];
      throw err;
    }
    const now = Date.now();
    const records = entries.map((st) => {
      const path =
        p === '/'
          ? st.path.replace(/^\/?/, '/')
          : `${p}${st.path.slice(resolved.ufsPath === '/' ? 0 : resolved.ufsPath.length)}`;
      return { ...this.toRecord(path, st, resolved.mount), syncedAtMs: now };
    });
    if (cached) {
      // Pages of files that changed or vanished can never be served again: free them now.
      const current = new Map(records.map((r) => [r.path, r.fingerprint]));
      for (const old of cached.entries) {
        if (old.cacheId && current.get(old.path) !== old.fingerprint)
          await this.o.pages.deleteFile(old.cacheId);
      }
    }
    await this.o.meta.putListing(p, records, now);
    // The array the metadata store now hands out (from memory): returning our own copy would make
    // the next list() see a new array and rebuild every FileInfo (a 100,000-entry relist ~100 ms).
    return (await this.o.meta.getListing(p))?.entries ?? records;
  }

  /** Every file at or below `p` (depth-first), using the sync policy. */
  private async *walk(p: string, onDir?: () => void): AsyncGenerator<FileRecord> {
    const root = await this.locate(p, undefined);
    if (root.record.type === 'file') {
      yield { ...root.record, cacheId: this.recordCacheId(root) };
      return;
    }
    const stack = [p];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      for (const rec of await this.listRecords(dir, undefined)) {
        if (rec.type === 'directory') {
          onDir?.();
          stack.push(rec.path);
        } else {
          yield rec;
        }
      }
    }
  }

  /** Where a range of the file comes from: the page cache, else its staging file or the store. */
  private rangeRequest(
    located: Located,
    offset: number,
    length: number,
    readType: ReadOptions['readType'] & string,
  ): RangeRequest {
    const { record, resolved } = located;
    const cacheId = this.recordCacheId(located);
    const staging = record.staging;
    const store = resolved.mount.store;
    const ufsPath = resolved.ufsPath;
    const fromStore = async (off: number, len: number) => {
      // Time to first byte: whole-run durations depend on how fast the reader consumes.
      const started = performance.now();
      const stream = await store.read(ufsPath, { offset: off, length: len });
      this.o.metrics.ufsOps.observe(
        { mount: resolved.mount.record.path, op: 'read' },
        (performance.now() - started) / 1000,
      );
      return stream as AsyncIterable<Buffer>;
    };
    const source = staging
      ? async (off: number, len: number) => {
          try {
            return (await this.o.staging.openRange(staging, off, len)) as AsyncIterable<Buffer>;
          } catch (err) {
            // Persisted (and its staging file removed) since this reader looked it up: the store
            // now holds the same bytes.
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
            return fromStore(off, len);
          }
        }
      : fromStore;
    return {
      cacheId,
      size: record.size,
      offset,
      length,
      readType,
      mount: resolved.mount.record.path,
      source,
    };
  }

  private streamRecord(
    located: Located,
    offset: number,
    length: number,
    readType: ReadOptions['readType'] & string,
  ): Readable {
    const stream = this.reader.stream(this.rangeRequest(located, offset, length, readType));
    // Lets the RPC server send a content-length, so a client can tell a complete body from a cut one.
    return Object.assign(stream, { contentLength: length, fingerprint: located.record.fingerprint });
  }

  /** Splits a local file into pages in the page store (after a write). */
  private async importPages(file: string, size: number, cacheId: string): Promise<void> {
    const ps = this.o.pages.pageSize;
    for (let off = 0, i = 0; off < size; off += ps, i++) {
      const buf = await this.o.staging.readRange(file, off, Math.min(ps, size - off));
      try {
        await this.o.pages.put(cacheId, i, buf);
      } catch (err) {
        if (isStrataError(err, 'CACHE_FULL')) return; // the store (or staging) still has the data
        throw err;
      }
    }
  }

  private async dropStaged(record: FileRecord): Promise<void> {
    await this.persister.remove(record.path);
    if (record.cacheId) await this.o.pages.deleteFile(record.cacheId);
    await this.o.meta.deleteAttrs(record.path);
    await this.o.meta.invalidate(record.path);
  }

  private info(record: FileRecord, mount: string, attrs: FileAttrs | undefined): FileInfo {
    const cachedBytes =
      record.type === 'file' && record.cacheId ? this.o.pages.cachedBytes(record.cacheId) : 0;
    const persistence = record.staging
      ? this.persister.isPending(record.path)
        ? 'TO_BE_PERSISTED'
        : 'NOT_PERSISTED'
      : 'PERSISTED';
    const base: FileInfo = {
      path: record.path,
      name: baseName(record.path),
      type: record.type,
      size: record.size,
      mtimeMs: record.mtimeMs,
      fingerprint: record.fingerprint,
      cachedBytes,
      cachedPercent:
        record.size > 0 ? Math.floor((cachedBytes * 100) / record.size) : record.type === 'file' ? 100 : 0,
      pinned: attrs?.pinned ?? (record.cacheId ? this.o.pages.isPinned(record.cacheId) : false),
      persistence,
      mount,
    };
    return {
      ...base,
      ...(record.etag === undefined ? {} : { etag: record.etag }),
      ...(attrs?.ttlMs === undefined ? {} : { ttlMs: attrs.ttlMs, ttlAction: attrs.ttlAction ?? 'free' }),
    };
  }

  private async timed<T>(mount: ActiveMount, op: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await fn();
    } finally {
      this.o.metrics.ufsOps.observe({ mount: mount.record.path, op }, (performance.now() - started) / 1000);
    }
  }

  /** True when `p` lies in a mount (used by front ends to decide between NOT_FOUND and NOT_MOUNTED). */
  covers(p: string): boolean {
    return this.o.mounts.tryResolve(p) !== undefined || isWithin('/', p);
  }
}

async function sumCounter(metrics: WorkerMetrics, name: string): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const data = await metric.get();
  return data.values.reduce((a, v) => a + v.value, 0);
}

/** Collects a Readable of Buffers into one Buffer (tests, small files). */
export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export { Readable };
