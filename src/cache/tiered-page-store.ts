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
 *
 * This class is the surface; the work is in tier-open.ts (open, close, startup index),
 * tier-read.ts (get, verify), tier-write.ts (put) and tier-eviction.ts (eviction, delete, pins),
 * all on the state in tier-set.ts.
 */
import type { DiskOpenReport } from './disk-tier.js';
import type { DiskWriteFailureHook } from './disk-write-failure.js';
import type {
  GetOptions,
  PageCheck,
  PageStore,
  PageStoreStats,
  PutOptions,
  TierStats,
} from './page-store.js';
import { deleteFile, setPinned } from './tier-eviction.js';
import { closeTiers, openTiers } from './tier-open.js';
import { diskFile, getPage, hasPage, peekMemory, verifyPage } from './tier-read.js';
import { type TieredPageStoreOptions, TierSet } from './tier-set.js';
import { putPage } from './tier-write.js';

export { DEFAULT_WRITE_CONCURRENCY, REGROW_CHECK_MS, type TieredPageStoreOptions } from './tier-set.js';

export class TieredPageStore implements PageStore {
  readonly pageSize: number;
  onEvict?: (tier: string, fileId: string, index: number, bytes: number) => void;
  onCapacityChange?: (tier: string, capacityBytes: number, quotaBytes: number) => void;
  /** Every failed disk page write (full, read-only, I/O error), for a metric and a log line. */
  onWriteFailure?: DiskWriteFailureHook;
  /** Per disk tier, where the last open() found its pages (an index file, or a scan). */
  diskIndexSources: readonly ('index-file' | 'scan')[] = [];
  /** Per disk tier, what the last open() found and dropped (the start log says it). */
  openReports: readonly DiskOpenReport[] = [];
  private readonly set: TierSet;

  constructor(options: TieredPageStoreOptions) {
    this.set = new TierSet(options, this);
    this.pageSize = this.set.pageSize;
  }

  /**
   * Rebuilds the disk index: from the index file the last clean close() wrote, else from the
   * directories. Restores pins, removes temp files, and evicts down to the quotas.
   */
  async open(): Promise<void> {
    const opened = await openTiers(this.set);
    this.diskIndexSources = opened.sources;
    this.openReports = opened.reports;
  }

  /** Waits for writes and deletions in flight, then drops the memory tier. */
  close(): Promise<void> {
    return closeTiers(this.set);
  }

  get(fileId: string, index: number, options: GetOptions = {}): Promise<Buffer | undefined> {
    return getPage(this.set, fileId, index, options);
  }

  peekMemory(fileId: string, index: number): Buffer | undefined {
    return peekMemory(this.set, fileId, index);
  }

  verify(fileId: string, index: number): Promise<PageCheck> {
    return verifyPage(this.set, fileId, index);
  }

  put(fileId: string, index: number, data: Buffer, options?: PutOptions): Promise<void> {
    return putPage(this.set, fileId, index, data, options);
  }

  deletionMark(): number {
    return this.set.deletionMark();
  }

  diskFile(fileId: string, index: number): string | undefined {
    return diskFile(this.set, fileId, index);
  }

  has(fileId: string, index: number): boolean {
    return hasPage(this.set, fileId, index);
  }

  deleteFile(fileId: string): Promise<number> {
    return deleteFile(this.set, fileId);
  }

  setPinned(fileId: string, pinned: boolean): Promise<void> {
    return setPinned(this.set, fileId, pinned);
  }

  get generation(): number {
    return this.set.changes;
  }

  isPinned(fileId: string): boolean {
    return this.set.pinned.has(fileId);
  }

  cachedBytes(fileId: string): number {
    return this.set.cachedBytes(fileId);
  }

  cachedPages(fileId: string): number[] {
    return [...this.set.pagesOf(fileId)].map(([index]) => index).sort((a, b) => a - b);
  }

  *files(): IterableIterator<string> {
    for (const slot of this.set.fileTable.slots()) yield this.set.fileTable.name(slot);
  }

  stats(): PageStoreStats {
    const tiers: TierStats[] = this.set.tiers.map((t) => ({
      tier: t.name,
      kind: t.kind,
      capacityBytes: t.index.capacityBytes,
      usedBytes: t.index.usedBytes,
      pages: t.index.pages,
      evictions: t.index.evictions,
    }));
    return { tiers, corruptPages: this.set.corruptPages, unsealFailures: { ...this.set.unsealFailures } };
  }
}
