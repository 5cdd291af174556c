/**
 * TieredPageStore: a memory tier and disk tiers, inclusive. put() stores a page in memory (if it
 * fits) and writes it to the first disk tier that can hold it; a memory eviction only drops the
 * memory copy; a disk eviction deletes the file and the memory copy. get() tries memory, then
 * disk (verifying the checksum), and with `promote` copies a disk hit into memory.
 *
 * Consistency rules (why accounting stays exact under concurrency):
 * - Every index change is synchronous and updates usedBytes with it (TierIndex).
 * - Work touching one page's file (put, the unlink after an eviction or delete, dropping a corrupt
 *   page) runs under a per-page lock; unlinks re-check the index under that lock, so they never
 *   delete a file a later put wrote.
 * - A disk entry being written is not ready: it is not read, not evicted. deleteFile may remove it;
 *   the put then notices its entry is gone and the file is deleted.
 * - A page evicted or deleted while a get() reads it makes that get a hit or a miss, never a
 *   corrupt count: corruption is only counted when the entry read is still the indexed one.
 */
import { StrataError } from '../core/errors.js';
import { KeyLock, Limiter } from '../core/key-lock.js';
import { type DiskOpenReport, DiskTier, isDiskFull, openReportOf } from './disk-tier.js';
import {
  type DiskWriteFailureHook,
  type DiskWriteFailureReason,
  diskWriteFailureReason,
} from './disk-write-failure.js';
import { FileTable } from './file-table.js';
import { MemoryTier } from './memory-tier.js';
import { checkFileId, checkPageIndex, pageKey } from './page-key.js';
import type { PageSealer } from './page-seal.js';
import type {
  GetOptions,
  PageCheck,
  PageStore,
  PageStoreOptions,
  PageStoreStats,
  TierStats,
} from './page-store.js';
import { PinFile } from './pin-file.js';
import type { PageRef } from './tier-index.js';

export interface TieredPageStoreOptions extends PageStoreOptions {
  /**
   * fsync each page before renaming it into place. Default false: after a power loss a page may
   * be empty or torn, which its checksum catches on read (the caller then re-reads the store).
   */
  readonly fsync?: boolean;
  /**
   * Disk writes in flight at once, default DEFAULT_WRITE_CONCURRENCY (32): the I/O thread takes
   * the writes queued between two of its trips as one message, so the cap is also its batch size;
   * at 8, a load of small (one-page) files paid a thread round trip per 8 pages.
   */
  readonly writeConcurrency?: number;
  /**
   * How often a disk tier shrunk by ENOSPC checks whether its disk has room again (on a put),
   * default REGROW_CHECK_MS.
   */
  readonly regrowCheckMs?: number;
  /**
   * Seals every disk-tier page with this key (AES-256-GCM, page-seal.ts); pages that do not open
   * with it (another key, forged, plain) are dropped as corrupt and read again from the store.
   * Default none: plain pages (and a sealed page found is dropped the same way).
   */
  readonly diskSealer?: PageSealer;
}

/** Disk page writes in flight at once unless TieredPageStoreOptions.writeConcurrency says. */
export const DEFAULT_WRITE_CONCURRENCY = 32;

type Tier = MemoryTier | DiskTier;

const DEFAULT_PAGE_SIZE = 1024 * 1024;
/** A shrunk disk tier checks this often whether its disk has room again. */
export const REGROW_CHECK_MS = 10_000;

export class TieredPageStore implements PageStore {
  readonly pageSize: number;
  onEvict?: (tier: string, fileId: string, index: number, bytes: number) => void;
  onCapacityChange?: (tier: string, capacityBytes: number, quotaBytes: number) => void;
  /** Every failed disk page write (full, read-only, I/O error), for a metric and a log line. */
  onWriteFailure?: DiskWriteFailureHook;

  private readonly memory: MemoryTier | undefined;
  private readonly disks: DiskTier[] = [];
  private readonly tiers: Tier[] = [];
  /** The fileIds of every page held by at least one tier, shared by the tiers' indexes. */
  private readonly fileTable = new FileTable();
  private readonly pinned = new Set<string>();
  /** Bumped whenever any file's cached bytes or pin state may have changed. */
  private changes = 0;
  private readonly pinFile: PinFile | undefined;
  private readonly locks = new KeyLock();
  private readonly writeLimiter: Limiter;
  private readonly pending = new Set<Promise<unknown>>();
  /** Puts waiting for an in-flight disk write to finish (and its space to become evictable). */
  private readonly writeWaiters: Array<() => void> = [];
  private corruptPages = 0;
  /** Per disk tier, where the last open() found its pages (an index file, or a scan). */
  diskIndexSources: readonly ('index-file' | 'scan')[] = [];
  /** Per disk tier, what the last open() found and dropped (the start log says it). */
  openReports: readonly DiskOpenReport[] = [];
  private readonly unsealFailures: Record<string, number> = {};
  private readonly regrowCheckMs: number;
  /** Disk pages are sealed: no client may read them itself (diskFile). */
  private readonly sealedDisks: boolean;
  private state: 'new' | 'open' | 'closed' = 'new';

  constructor(options: TieredPageStoreOptions) {
    this.pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isSafeInteger(this.pageSize) || this.pageSize <= 0 || this.pageSize > 0xffffffff) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `pageSize must be a positive integer < 4 GiB: ${this.pageSize}`,
      );
    }
    const policy = options.eviction ?? 'LRU';
    if (!['LRU', 'LFU', 'FIFO'].includes(policy)) {
      throw new StrataError('INVALID_ARGUMENT', `unknown eviction policy ${String(policy)}`);
    }
    const names = new Set<string>();
    let memory: MemoryTier | undefined;
    for (const [i, tier] of options.tiers.entries()) {
      if (names.has(tier.name)) throw new StrataError('INVALID_ARGUMENT', `duplicate tier name ${tier.name}`);
      names.add(tier.name);
      if (!Number.isSafeInteger(tier.capacityBytes) || tier.capacityBytes < 0) {
        throw new StrataError('INVALID_ARGUMENT', `tier ${tier.name}: capacityBytes must be an integer >= 0`);
      }
      if (tier.kind === 'memory') {
        if (i !== 0)
          throw new StrataError('INVALID_ARGUMENT', 'the memory tier must be the first and only one');
        memory = new MemoryTier(tier.name, tier.capacityBytes, policy, this.fileTable);
        this.tiers.push(memory);
      } else {
        if (!tier.dir) throw new StrataError('INVALID_ARGUMENT', `disk tier ${tier.name} needs a dir`);
        const disk = new DiskTier(
          tier.name,
          tier.dir,
          tier.capacityBytes,
          policy,
          options.fsync ?? false,
          this.fileTable,
          options.diskSealer,
        );
        this.disks.push(disk);
        this.tiers.push(disk);
      }
    }
    this.memory = memory;
    this.pinFile = this.disks[0] ? new PinFile(this.disks[0].dir) : undefined;
    this.writeLimiter = new Limiter(options.writeConcurrency ?? DEFAULT_WRITE_CONCURRENCY);
    this.regrowCheckMs = options.regrowCheckMs ?? REGROW_CHECK_MS;
    this.sealedDisks = options.diskSealer !== undefined;
  }

  /**
   * Rebuilds the disk index: from the index file the last clean close() wrote (no walk; the
   * eviction order as it was), else from the directories (sizes from stat, oldest mtime first;
   * headers and checksums are checked on first read either way). Restores pins, removes temp
   * files, and evicts down to the quotas.
   */
  async open(): Promise<void> {
    if (this.state !== 'new') throw new StrataError('INTERNAL', `page store already ${this.state}`);
    if (this.pinFile) for (const id of await this.pinFile.load()) this.pinned.add(id);
    // Each tier streams its pages straight into its own index (no list of a million pages).
    const scans = await Promise.all(
      this.disks.map((disk) =>
        disk.load((fileId, index, bytes) => {
          disk.index.add(fileId, index, bytes, { evictable: !this.pinned.has(fileId), ready: true });
        }),
      ),
    );
    this.diskIndexSources = scans.map((s) => s.source);
    this.openReports = scans.map((s, i) => openReportOf(this.disks[i]!.name, s));
    this.changes++;
    for (const [i, disk] of this.disks.entries()) {
      const scan = scans[i]!;
      this.corruptPages += scan.badPages + scan.tornPages;
      if (i > 0) this.dropCopies(disk, this.disks.slice(0, i));
      // The quota may have shrunk since the pages were written.
      while (!disk.index.fits(0)) {
        const victim = disk.index.victim();
        if (victim < 0) break;
        this.evictDisk(disk, victim);
      }
    }
    this.state = 'open';
  }

  /** Waits for writes and deletions in flight, then drops the memory tier. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    // The next open() takes the index from these files instead of walking every page.
    // A failed write (disk full, read-only) only costs that walk: the file is never half there.
    await Promise.all(this.disks.map((d) => d.saveIndex().catch(() => undefined)));
    this.memory?.index.clear();
  }

  /** A copy left in a second tier (crash while moving): the first tier's is kept. */
  private dropCopies(disk: DiskTier, earlier: readonly DiskTier[]): void {
    const copies: number[] = [];
    for (const slot of disk.index.coldestFirst()) {
      const fileId = disk.index.fileIdOf(slot);
      const index = disk.index.indexOf(slot);
      if (earlier.some((d) => d.index.has(fileId, index))) copies.push(slot);
    }
    for (const slot of copies) {
      const fileId = disk.index.fileIdOf(slot);
      const index = disk.index.indexOf(slot);
      disk.index.removeSlot(slot);
      this.background(disk.unlinkPage(fileId, index));
    }
  }

  async get(fileId: string, index: number, options: GetOptions = {}): Promise<Buffer | undefined> {
    this.checkOpen();
    checkFileId(fileId);
    checkPageIndex(index);
    const hit = this.peekMemory(fileId, index);
    if (hit) return hit;
    for (const disk of this.disks) {
      const slot = disk.index.find(fileId, index);
      if (slot < 0 || !disk.index.isReady(slot)) continue;
      disk.index.touch(slot);
      return this.track(this.readDisk(disk, disk.index.refOf(slot), options.promote === true, options.into));
    }
    return undefined;
  }

  peekMemory(fileId: string, index: number): Buffer | undefined {
    if (this.state !== 'open' || this.memory === undefined) return undefined;
    const slot = this.memory.index.find(fileId, index);
    if (slot < 0) return undefined;
    this.memory.index.touch(slot);
    // Keep the disk copy warm too: evicting it would drop this hot memory copy.
    this.touchDisks(fileId, index);
    return this.memory.index.valueOf(slot);
  }

  private touchDisks(fileId: string, index: number): void {
    for (const disk of this.disks) {
      const slot = disk.index.find(fileId, index);
      if (slot >= 0) disk.index.touch(slot);
    }
  }

  async verify(fileId: string, index: number): Promise<PageCheck> {
    this.checkOpen();
    checkFileId(fileId);
    checkPageIndex(index);
    return this.track(
      (async (): Promise<PageCheck> => {
        for (const disk of this.disks) {
          const slot = disk.index.find(fileId, index);
          if (slot < 0) continue;
          if (!disk.index.isReady(slot)) return 'ok'; // being written from fresh bytes
          const entry = disk.index.refOf(slot);
          let reason: string | undefined;
          let unseal: string | undefined;
          try {
            const result = await disk.readPage(entry.fileId, entry.index, entry.bytes);
            if (!result.ok) {
              reason = result.reason;
              unseal = result.unseal;
            } else if (result.data.length !== entry.bytes)
              reason = `length ${result.data.length} where ${entry.bytes} was indexed`;
            else {
              const copy = this.memoryCopy(fileId, index);
              // The memory copy has no checksum of its own: the disk copy that passed its own is the reference.
              if (copy !== undefined && !copy.equals(result.data)) reason = 'memory copy differs from disk';
            }
          } catch (err) {
            reason = err instanceof Error ? err.message : String(err);
          }
          if (reason === undefined) return 'ok';
          // Not dropped: a put replaced the page while it was read (fresh bytes).
          return (await this.dropBadPage(disk, entry, reason, unseal)) ? 'bad' : 'ok';
        }
        return this.memory?.index.has(fileId, index) ? 'ok' : 'absent';
      })(),
    );
  }

  async put(fileId: string, index: number, data: Buffer): Promise<void> {
    this.checkOpen();
    checkFileId(fileId);
    checkPageIndex(index);
    if (!Buffer.isBuffer(data)) throw new StrataError('INVALID_ARGUMENT', 'page data must be a Buffer');
    if (data.length > this.pageSize) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `page of ${data.length} bytes exceeds pageSize ${this.pageSize}`,
      );
    }
    const key = pageKey(fileId, index);
    return this.track(this.locks.run(key, () => this.putLocked(key, fileId, index, data, true)));
  }

  diskFile(fileId: string, index: number): string | undefined {
    if (this.state !== 'open' || this.sealedDisks) return undefined;
    for (const disk of this.disks) {
      const slot = disk.index.find(fileId, index);
      if (slot < 0 || !disk.index.isReady(slot)) continue;
      disk.index.touch(slot);
      const inMemory = this.memory?.index.find(fileId, index) ?? -1;
      if (inMemory >= 0) this.memory!.index.touch(inMemory);
      return disk.pagePath(fileId, index);
    }
    return undefined;
  }

  has(fileId: string, index: number): boolean {
    if (this.memory?.index.has(fileId, index)) return true;
    return this.disks.some((d) => {
      const slot = d.index.find(fileId, index);
      return slot >= 0 && d.index.isReady(slot);
    });
  }

  async deleteFile(fileId: string): Promise<number> {
    this.checkOpen();
    checkFileId(fileId);
    if (this.fileTable.find(fileId) < 0) return 0;
    let freed = 0;
    const unlinks: Promise<void>[] = [];
    for (const [index, bytes] of [...this.pagesOf(fileId)]) {
      freed += bytes;
      this.memory?.index.remove(fileId, index);
      for (const disk of this.disks) {
        if (disk.index.remove(fileId, index)) unlinks.push(this.unlinkLater(disk, fileId, index, bytes));
      }
    }
    this.changes++;
    await this.track(Promise.all(unlinks));
    return freed;
  }

  async setPinned(fileId: string, pinned: boolean): Promise<void> {
    this.checkOpen();
    checkFileId(fileId);
    if (this.pinned.has(fileId) === pinned) return;
    this.applyPin(fileId, pinned);
    try {
      if (this.pinFile) await this.track(this.pinFile.save(this.pinned));
    } catch (err) {
      this.applyPin(fileId, !pinned);
      throw err;
    }
  }

  get generation(): number {
    return this.changes;
  }

  isPinned(fileId: string): boolean {
    return this.pinned.has(fileId);
  }

  cachedBytes(fileId: string): number {
    let total = 0;
    for (const [, bytes] of this.pagesOf(fileId)) total += bytes;
    return total;
  }

  cachedPages(fileId: string): number[] {
    return [...this.pagesOf(fileId)].map(([index]) => index).sort((a, b) => a - b);
  }

  *files(): IterableIterator<string> {
    for (const slot of this.fileTable.slots()) yield this.fileTable.name(slot);
  }

  stats(): PageStoreStats {
    const tiers: TierStats[] = this.tiers.map((t) => ({
      tier: t.name,
      kind: t.kind,
      capacityBytes: t.index.capacityBytes,
      usedBytes: t.index.usedBytes,
      pages: t.index.pages,
      evictions: t.index.evictions,
    }));
    return { tiers, corruptPages: this.corruptPages, unsealFailures: { ...this.unsealFailures } };
  }

  // ---- internals ----

  /**
   * `retryFull`: when the disk write meets ENOSPC, shrink that tier to what its disk holds, evict,
   * and write once more (the eviction made the room).
   */
  private async putLocked(
    key: string,
    fileId: string,
    index: number,
    data: Buffer,
    retryFull: boolean,
  ): Promise<void> {
    const bytes = data.length;
    for (const disk of this.disks) {
      if (disk.index.capacityBytes < disk.quotaBytes && Date.now() - disk.measuredAtMs >= this.regrowCheckMs)
        await this.remeasure(disk, 'grow');
    }
    let target: DiskTier | undefined;
    let anyLargeEnough = false;
    for (;;) {
      anyLargeEnough = false;
      const now = Date.now();
      for (const disk of this.disks) {
        if (bytes > disk.index.capacityBytes) continue; // too large for this tier: not stored there
        if (disk.writeBlockedUntilMs > now) continue; // read-only or failing: memory only for now
        anyLargeEnough = true;
        if (disk.index.canFit(bytes, disk.index.find(fileId, index))) {
          target = disk;
          break;
        }
      }
      if (target !== undefined || !anyLargeEnough) break;
      // Pages being written hold space but cannot be evicted yet: when they are what is in the
      // way (not pins), wait for a write to finish instead of failing a burst of puts.
      const inFlightMayFree = this.disks.some(
        (d) => d.writingBytes > 0 && d.index.canFit(bytes, d.index.find(fileId, index), d.writingBytes),
      );
      if (!inFlightMayFree) {
        throw new StrataError(
          'CACHE_FULL',
          `no room for page ${key} (${bytes} bytes): the disk tiers hold pinned pages`,
          {
            details: { fileId, index, bytes },
          },
        );
      }
      await new Promise<void>((resolve) => this.writeWaiters.push(resolve));
      this.checkOpen();
    }
    // A page lives in at most one disk tier: drop copies elsewhere (stale once replaced).
    for (const disk of this.disks) {
      if (disk !== target && disk.index.remove(fileId, index)) this.unlinkLater(disk, fileId, index);
    }
    let entry: PageRef | undefined;
    let replace = false;
    if (target !== undefined) {
      // The old entry goes; its file stays until our rename replaces it (a reader may hold it).
      replace = target.index.remove(fileId, index);
      while (!target.index.fits(bytes)) {
        const victim = target.index.victim();
        if (victim < 0) throw new StrataError('INTERNAL', 'eviction found no victim after canFit');
        this.evictDisk(target, victim);
      }
      entry = target.index.refOf(target.index.add(fileId, index, bytes, { evictable: false, ready: false }));
    }
    const inMemory = this.putMemory(fileId, index, data);
    this.changes++;
    if (!inMemory && this.disks.length === 0) {
      // Memory is the only tier: a page it cannot take is not cached at all, so say so.
      throw new StrataError(
        'CACHE_FULL',
        `no room for page ${key} (${bytes} bytes): memory holds pinned pages`,
        {
          details: { fileId, index, bytes },
        },
      );
    }
    if (target === undefined || entry === undefined) return;

    target.writingBytes += bytes;
    let full = false;
    try {
      await this.writeLimiter.run(() => target.writePage(fileId, index, data, replace));
    } catch (err) {
      const reason = diskWriteFailureReason(err);
      this.notifyWriteFailure(target.name, reason, err);
      const keptInMemory = reason !== 'no_space' && this.memoryCopy(fileId, index) === data;
      if (target.index.isCurrent(entry)) {
        target.index.removeSlot(entry.slot);
        if (!keptInMemory && this.memoryCopy(fileId, index) === data)
          this.memory?.index.remove(fileId, index);
        this.changes++;
      }
      // The previous file under this name is no longer indexed either.
      await target.unlinkPage(fileId, index).catch(() => {});
      if (reason !== 'no_space') {
        // A read-only or failing disk: set it aside for new pages (retried after the regrow
        // check period); the page is still cached when memory took it.
        target.writeBlockedUntilMs = Date.now() + this.regrowCheckMs;
        if (keptInMemory) return;
        throw new StrataError(
          'CACHE_FULL',
          `disk tier ${target.name} cannot store page ${key}: ${String(err)}`,
          {
            cause: err,
            details: { tier: target.name, reason },
          },
        );
      }
      if (!retryFull || !isDiskFull(err)) throw err;
      full = true;
    } finally {
      target.writingBytes -= bytes;
      for (const wake of this.writeWaiters.splice(0)) wake();
    }
    if (full) {
      // The quota said there was room and the disk said no: believe the disk.
      await this.remeasure(target, 'shrink');
      return this.putLocked(key, fileId, index, data, false);
    }
    if (target.index.isCurrent(entry)) {
      target.index.setReady(entry.slot);
      target.index.setEvictable(entry.slot, !this.pinned.has(fileId));
    } else if (!target.index.has(fileId, index)) {
      await target.unlinkPage(fileId, index); // deleteFile ran while we wrote
    }
  }

  /**
   * Caches a page in memory if it fits (evicting unpinned pages); otherwise skips memory (a disk
   * tier holds it). Returns whether memory now holds it.
   */
  private putMemory(fileId: string, index: number, data: Buffer): boolean {
    const memory = this.memory;
    if (memory === undefined) return false;
    memory.index.remove(fileId, index);
    if (!memory.index.canFit(data.length)) return false;
    while (!memory.index.fits(data.length)) {
      const victim = memory.index.victim();
      if (victim < 0) return false;
      this.evictMemory(victim);
    }
    memory.index.add(fileId, index, data.length, {
      evictable: !this.pinned.has(fileId),
      ready: true,
      value: data,
    });
    return true;
  }

  /** The memory tier's copy of a page, if it holds one. */
  private memoryCopy(fileId: string, index: number): Buffer | undefined {
    const slot = this.memory?.index.find(fileId, index) ?? -1;
    return slot < 0 ? undefined : this.memory!.index.valueOf(slot);
  }

  /** Each page of the file held by a tier, once: its index and bytes as the first tier holding it says. */
  private *pagesOf(fileId: string): IterableIterator<[index: number, bytes: number]> {
    const file = this.fileTable.find(fileId);
    if (file < 0) return;
    for (const [t, tier] of this.tiers.entries()) {
      for (const slot of tier.index.slotsOfFile(file)) {
        const index = tier.index.indexOf(slot);
        let earlier = false;
        for (let e = 0; e < t && !earlier; e++) earlier = this.tiers[e]!.index.has(fileId, index);
        if (!earlier) yield [index, tier.index.bytesOf(slot)];
      }
    }
  }

  private async readDisk(
    disk: DiskTier,
    entry: PageRef,
    promote: boolean,
    into: Buffer | undefined,
  ): Promise<Buffer | undefined> {
    let reason: string;
    let unseal: string | undefined;
    try {
      // A promoted page stays in memory: it must not live in a buffer its caller will reuse.
      const result = await disk.readPage(
        entry.fileId,
        entry.index,
        entry.bytes,
        promote ? undefined : into,
        disk.index.verifiedCtimeOf(entry.slot),
      );
      if (!result.ok) unseal = result.unseal;
      if (result.ok && result.data.length === entry.bytes) {
        // Only while the page is still indexed (not evicted, deleted or replaced while we read).
        const current = disk.index.isCurrent(entry);
        if (current) disk.index.setVerifiedCtime(entry.slot, result.ctimeMs);
        if (promote && this.memory && current && !this.memory.index.has(entry.fileId, entry.index)) {
          this.putMemory(entry.fileId, entry.index, result.data);
          this.changes++;
        }
        return result.data;
      }
      reason = result.ok ? `length ${result.data.length} where ${entry.bytes} was indexed` : result.reason;
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
    }
    await this.dropBadPage(disk, entry, reason, unseal);
    return undefined;
  }

  /**
   * Deletes a page that failed its checks, unless a put or a delete replaced it meanwhile;
   * whether it did.
   */
  private dropBadPage(disk: DiskTier, entry: PageRef, _reason: string, unseal?: string): Promise<boolean> {
    return this.locks.run(pageKey(entry.fileId, entry.index), async () => {
      if (!disk.index.isCurrent(entry)) return false;
      if (unseal !== undefined) this.unsealFailures[unseal] = (this.unsealFailures[unseal] ?? 0) + 1;
      disk.index.removeSlot(entry.slot);
      this.memory?.index.remove(entry.fileId, entry.index);
      this.changes++;
      this.corruptPages++;
      await disk.unlinkPage(entry.fileId, entry.index);
      return true;
    });
  }

  private evictMemory(slot: number): void {
    const memory = this.memory!.index;
    const entry = memory.refOf(slot);
    memory.removeSlot(slot);
    memory.evictions++;
    this.changes++;
    this.notifyEvict(this.memory!.name, entry.fileId, entry.index, entry.bytes);
  }

  /** Drops a disk page and its memory copy (tiers are inclusive); the file goes in the background. */
  private evictDisk(disk: DiskTier, slot: number): Promise<void> {
    const entry = disk.index.refOf(slot);
    disk.index.removeSlot(slot);
    disk.index.evictions++;
    this.memory?.index.remove(entry.fileId, entry.index);
    this.changes++;
    this.notifyEvict(disk.name, entry.fileId, entry.index, entry.bytes);
    return this.unlinkLater(disk, entry.fileId, entry.index, entry.bytes);
  }

  /**
   * Sets a disk tier's capacity from what its disk holds (DiskTier.measure): 'shrink' after
   * ENOSPC — never above the current capacity; evicts what no longer fits and waits for those
   * files to go, so the space is free when this returns — or 'grow' back toward the quota once the
   * disk has room again. A burst of writes failing together measures the same disk each time:
   * pages evicted but not yet unlinked count as the tier's, so it does not shrink once per write.
   */
  private async remeasure(disk: DiskTier, direction: 'shrink' | 'grow'): Promise<void> {
    disk.measuredAtMs = Date.now();
    let measured: number | undefined;
    try {
      measured = await disk.measure(this.pageSize);
    } catch {
      // statfs failed: after ENOSPC give up one page's worth; otherwise keep the capacity.
      if (direction === 'shrink') measured = disk.index.capacityBytes - this.pageSize;
    }
    const current = disk.index.capacityBytes;
    if (measured !== undefined && (direction === 'shrink' ? measured < current : measured > current)) {
      disk.index.resize(measured);
      this.changes++;
      try {
        this.onCapacityChange?.(disk.name, disk.index.capacityBytes, disk.quotaBytes);
      } catch {
        // A log callback must not break the page store.
      }
    }
    const unlinks: Promise<void>[] = [];
    while (!disk.index.fits(0)) {
      const victim = disk.index.victim();
      if (victim < 0) break;
      unlinks.push(this.evictDisk(disk, victim));
    }
    await Promise.all(unlinks);
  }

  /** Deletes a page file under its lock, unless a later put indexed the page again. */
  /** `bytes`: the page's payload, counted in disk.unlinkingBytes until its file is gone. */
  private unlinkLater(disk: DiskTier, fileId: string, index: number, bytes = 0): Promise<void> {
    const key = pageKey(fileId, index);
    disk.unlinkingBytes += bytes;
    const done = this.locks
      .run(key, async () => {
        if (!disk.index.has(fileId, index)) await disk.unlinkPage(fileId, index);
      })
      .catch(() => {
        // The file may leak until the next open() rescans; the index is already right.
      })
      .finally(() => {
        disk.unlinkingBytes -= bytes;
      });
    return this.background(done);
  }

  private applyPin(fileId: string, pinned: boolean): void {
    this.changes++;
    if (pinned) this.pinned.add(fileId);
    else this.pinned.delete(fileId);
    const file = this.fileTable.find(fileId);
    if (file < 0) return;
    // A page still being written becomes evictable when its write ends (putLocked).
    for (const tier of this.tiers)
      for (const slot of tier.index.slotsOfFile(file))
        if (tier.index.isReady(slot)) tier.index.setEvictable(slot, !pinned);
  }

  private notifyWriteFailure(tier: string, reason: DiskWriteFailureReason, err: unknown): void {
    try {
      this.onWriteFailure?.(tier, reason, err instanceof Error ? err.message : String(err));
    } catch {
      // A metrics callback must not break a put.
    }
  }

  private notifyEvict(tier: string, fileId: string, index: number, bytes: number): void {
    try {
      this.onEvict?.(tier, fileId, index, bytes);
    } catch {
      // A metrics callback must not break eviction.
    }
  }

  private checkOpen(): void {
    if (this.state !== 'open') {
      throw new StrataError(
        'UNAVAILABLE',
        this.state === 'new' ? 'page store is not open' : 'page store is closed',
      );
    }
  }

  /** Remembers a promise so close() can wait for it. */
  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    const forget = () => this.pending.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  private background(promise: Promise<void>): Promise<void> {
    return this.track(promise);
  }
}
