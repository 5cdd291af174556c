/**
 * The page store contract. A cached file is a sequence of fixed-size pages keyed by
 * (fileId, index); fileId already includes the store fingerprint, so a changed source never
 * matches old pages. Implementations: TieredPageStore (memory + disk tiers).
 *
 * Invariants:
 * - get() never returns bytes that fail their checksum: a corrupt page is deleted, counted in
 *   stats().corruptPages, and reported as a miss so the caller re-reads the store.
 * - Pages of pinned files are never evicted; when only pinned pages remain, put() throws
 *   CACHE_FULL instead of exceeding a quota.
 * - Disk-tier pages and their index survive a restart (open() rebuilds the index).
 * - A disk tier whose disk fills up before its quota (ENOSPC) takes the disk's word: it shrinks
 *   its capacity to what the disk holds less a headroom, evicts to fit, and grows back toward the
 *   quota when the disk has room again; the write that met ENOSPC is retried once.
 * - A disk tier whose write fails otherwise (read-only, I/O error) takes no new pages for a while
 *   (memory only); its pages stay readable. Every failed disk write reaches onWriteFailure.
 */
import type { DiskWriteFailureHook } from './disk-write-failure.js';

export type EvictionPolicyName = 'LRU' | 'LFU' | 'FIFO';

export interface TierConfig {
  /** 'memory' or a disk tier name such as 'disk0'. Appears in metrics as {tier}. */
  readonly name: string;
  readonly kind: 'memory' | 'disk';
  /** Directory of a disk tier. */
  readonly dir?: string;
  /** Quota in bytes (page payload bytes). */
  readonly capacityBytes: number;
}

export interface PageStoreOptions {
  /** Page size in bytes, default 1 MiB. The last page of a file may be shorter. */
  readonly pageSize: number;
  /** Memory tier first, then disk tiers; any may be absent. */
  readonly tiers: readonly TierConfig[];
  readonly eviction: EvictionPolicyName;
}

export interface TierStats {
  readonly tier: string;
  readonly kind: 'memory' | 'disk';
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly pages: number;
  readonly evictions: number;
}

export interface PageStoreStats {
  readonly tiers: readonly TierStats[];
  readonly corruptPages: number;
  /**
   * Of corruptPages, those dropped for their sealing (encrypted disk tier, page-seal.ts), by why:
   * wrong_key, tampered, not_sealed (plain on an encrypted tier), no_key (sealed, no key given).
   */
  readonly unsealFailures?: Readonly<Record<string, number>>;
}

export interface PutOptions {
  /**
   * A deletionMark(): the page is not stored when deleteFile(fileId) was called after that mark
   * (the bytes may be another version's: the file was replaced). Checked under the page's lock
   * just before the page is indexed, so a deletion is either seen here or removes the page.
   */
  readonly unlessDeletedSince?: number;
}

export interface GetOptions {
  /** Copy a page found only on disk into the memory tier (CACHE_PROMOTE). */
  readonly promote?: boolean;
  /**
   * A buffer (BufferPool's) to read a disk page into; the answer is then a view of it, and the
   * caller owns it again (no tier keeps it). Ignored for memory hits, promotions, sealed pages
   * and pages larger than it.
   */
  readonly into?: Buffer;
}

/**
 * What verify() found: 'ok' (checks passed, or nothing to check it against: a page only in
 * memory, or one still being written), 'bad' (failed and dropped from every tier, counted in
 * corruptPages), 'absent' (not cached).
 */
export type PageCheck = 'ok' | 'bad' | 'absent';

export interface PageStore {
  readonly pageSize: number;
  open(): Promise<void>;
  close(): Promise<void>;
  /** The page, or undefined on a miss (including a dropped corrupt page). */
  get(fileId: string, index: number, options?: GetOptions): Promise<Buffer | undefined>;
  /**
   * The page when the memory tier holds it (counted as a use, like get), else undefined — with
   * no I/O and no promise, for callers that take a synchronous path when everything is in memory.
   */
  peekMemory?(fileId: string, index: number): Buffer | undefined;
  /**
   * Re-reads a page's disk copy checking its header and checksum (whatever the memory tier
   * holds), and the memory copy against that copy's bytes; a page failing either is dropped
   * from every tier so the next read fetches it again (a job's load --verify).
   */
  verify?(fileId: string, index: number): Promise<PageCheck>;
  /**
   * Where a page lies on disk as a plain page file (page-file.ts format), for a client on the
   * same host that reads it itself (short-circuit reads); undefined when it is not on a disk tier
   * (memory only, being written) or the tier is sealed (the client has no key). Counts as a use
   * of the page for eviction. Offered by the tiered store.
   */
  diskFile?(fileId: string, index: number): string | undefined;
  /**
   * Stores a page (memory tier and the first disk tier). Replaces an existing page.
   * `options.unlessDeletedSince`: not when deleteFile(fileId) ran after that deletionMark().
   */
  put(fileId: string, index: number, data: Buffer, options?: PutOptions): Promise<void>;
  /** A mark of the deleteFile calls so far, for PutOptions.unlessDeletedSince. Offered by the tiered store. */
  deletionMark?(): number;
  has(fileId: string, index: number): boolean;
  /** Drops every page of a file from every tier; returns the bytes freed. */
  deleteFile(fileId: string): Promise<number>;
  /** Marks a file's pages (present and future) as never evictable; persisted across restarts. */
  setPinned(fileId: string, pinned: boolean): Promise<void>;
  isPinned(fileId: string): boolean;
  /** A counter that changes whenever any file's cached bytes or pin state may have changed. */
  readonly generation: number;
  /** Bytes of this file held in the cache (counting each page once, whatever its tiers). */
  cachedBytes(fileId: string): number;
  /** Indexes of the cached pages of a file, ascending. */
  cachedPages(fileId: string): number[];
  /** Every fileId with at least one cached page. */
  files(): IterableIterator<string>;
  stats(): PageStoreStats;
  /** Called on each eviction (metrics). */
  onEvict?: (tier: string, fileId: string, index: number, bytes: number) => void;
  /**
   * Called when a tier's capacity changes from its quota's: a disk tier whose disk filled up
   * (ENOSPC) shrinks to what the disk holds, and grows back as the disk frees up (log).
   */
  onCapacityChange?: (tier: string, capacityBytes: number, quotaBytes: number) => void;
  /** A disk page write failed (tier, why: no_space | read_only | io_error, the error's message). */
  onWriteFailure?: DiskWriteFailureHook;
}
