/**
 * The state a TieredPageStore's modules share: its tiers, the file table their indexes share, the
 * pins, the per-page locks and the promises close() waits for. The rules that keep it consistent
 * are in tiered-page-store.ts; tier-open.ts, tier-read.ts, tier-write.ts and tier-eviction.ts
 * each do one part of the work on it.
 */
import { StrataError } from '../core/errors.js';
import { KeyLock, Limiter } from '../core/key-lock.js';
import { DiskTier } from './disk-tier.js';
import type { DiskWriteFailureHook, DiskWriteFailureReason } from './disk-write-failure.js';
import { FileTable } from './file-table.js';
import { MemoryTier } from './memory-tier.js';
import type { PageSealer } from './page-seal.js';
import type { PageStoreOptions } from './page-store.js';
import { PinFile } from './pin-file.js';

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
/** A shrunk disk tier checks this often whether its disk has room again. */
export const REGROW_CHECK_MS = 10_000;

const DEFAULT_PAGE_SIZE = 1024 * 1024;
/** Deletions remembered by file for PutOptions.unlessDeletedSince (about 100 bytes each). */
const MAX_REMEMBERED_DELETIONS = 10_000;

export type Tier = MemoryTier | DiskTier;

/** The store's callbacks, read when they fire (the store's owner may set them at any time). */
export interface TierSetHooks {
  readonly onEvict?: (tier: string, fileId: string, index: number, bytes: number) => void;
  readonly onCapacityChange?: (tier: string, capacityBytes: number, quotaBytes: number) => void;
  readonly onWriteFailure?: DiskWriteFailureHook;
}

export class TierSet {
  readonly pageSize: number;

  readonly memory: MemoryTier | undefined;
  readonly disks: DiskTier[] = [];
  readonly tiers: Tier[] = [];
  /** The fileIds of every page held by at least one tier, shared by the tiers' indexes. */
  readonly fileTable = new FileTable();
  readonly pinned = new Set<string>();
  /** Bumped whenever any file's cached bytes or pin state may have changed. */
  changes = 0;
  readonly pinFile: PinFile | undefined;
  readonly locks = new KeyLock();
  readonly writeLimiter: Limiter;
  readonly pending = new Set<Promise<unknown>>();
  /** Puts waiting for an in-flight disk write to finish (and its space to become evictable). */
  readonly writeWaiters: Array<() => void> = [];
  corruptPages = 0;
  readonly unsealFailures: Record<string, number> = {};
  readonly regrowCheckMs: number;
  /** Disk pages are sealed: no client may read them itself (diskFile). */
  readonly sealedDisks: boolean;
  state: 'new' | 'open' | 'closed' = 'new';
  /** deleteFile calls so far (deletionMark), and the latest one's number per file, oldest first. */
  private deletions = 0;
  private readonly deletedAt = new Map<string, number>();
  /** The number of the latest deletion no longer in deletedAt: any file may have been deleted then. */
  private forgottenUpTo = 0;

  constructor(
    options: TieredPageStoreOptions,
    private readonly hooks: TierSetHooks,
  ) {
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

  deletionMark(): number {
    return this.deletions;
  }

  noteDeletion(fileId: string): void {
    const at = ++this.deletions;
    this.deletedAt.delete(fileId); // re-inserted last: the map stays in deletion order
    this.deletedAt.set(fileId, at);
    if (this.deletedAt.size > MAX_REMEMBERED_DELETIONS) {
      const [oldest, oldestAt] = this.deletedAt.entries().next().value!;
      this.deletedAt.delete(oldest);
      this.forgottenUpTo = oldestAt;
    }
  }

  /** Whether deleteFile(fileId) ran after `mark` (true too when that is forgotten: a put skipped is only a miss). */
  deletedSince(fileId: string, mark: number): boolean {
    return (this.deletedAt.get(fileId) ?? this.forgottenUpTo) > mark;
  }

  checkOpen(): void {
    if (this.state !== 'open') {
      throw new StrataError(
        'UNAVAILABLE',
        this.state === 'new' ? 'page store is not open' : 'page store is closed',
      );
    }
  }

  /** Remembers a promise so close() can wait for it. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    const forget = () => this.pending.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /** The memory tier's copy of a page, if it holds one. */
  memoryCopy(fileId: string, index: number): Buffer | undefined {
    const slot = this.memory?.index.find(fileId, index) ?? -1;
    return slot < 0 ? undefined : this.memory!.index.valueOf(slot);
  }

  /** The bytes of the file's pages, each counted once (as the first tier holding it says). */
  cachedBytes(fileId: string): number {
    const file = this.fileTable.find(fileId);
    if (file < 0) return 0;
    let total = 0;
    const tiers = this.tiers;
    for (let t = 0; t < tiers.length; t++) total += tiers[t]!.index.bytesOfFile(file, tiers, t);
    return total;
  }

  /** Each page of the file held by a tier, once: its index and bytes as the first tier holding it says. */
  *pagesOf(fileId: string): IterableIterator<[index: number, bytes: number]> {
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

  notifyWriteFailure(tier: string, reason: DiskWriteFailureReason, err: unknown): void {
    try {
      this.hooks.onWriteFailure?.(tier, reason, err instanceof Error ? err.message : String(err));
    } catch {
      // A metrics callback must not break a put.
    }
  }

  notifyEvict(tier: string, fileId: string, index: number, bytes: number): void {
    try {
      this.hooks.onEvict?.(tier, fileId, index, bytes);
    } catch {
      // A metrics callback must not break eviction.
    }
  }

  notifyCapacity(disk: DiskTier): void {
    try {
      this.hooks.onCapacityChange?.(disk.name, disk.index.capacityBytes, disk.quotaBytes);
    } catch {
      // A log callback must not break the page store.
    }
  }
}
