import type { EntryType } from '../core/file-system.js';

/**
 * The metadata store contract: a worker's cache of file statuses and directory listings (with
 * their store fingerprints), plus the attributes Strata owns (pin, TTL, persistence state) and a
 * small durable journal (write-ahead records of ASYNC_THROUGH writes). Backed by an embedded
 * off-heap KV engine so millions of entries do not live on the JS heap.
 *
 * Paths are full namespace paths, normalised ("/mnt/a/b"). Statuses and listings are a cache and
 * may be dropped at any time; attributes and journal records are authoritative and are written
 * with sync so they survive kill -9.
 */

export interface FileRecord {
  readonly path: string;
  readonly type: EntryType;
  readonly size: number;
  readonly mtimeMs: number;
  readonly etag?: string;
  /** fingerprintOf(store status): size:mtime:etag. */
  readonly fingerprint: string;
  /** When this record was last confirmed against the store (ms since epoch). */
  readonly syncedAtMs: number;
  /**
   * The page-cache identity of the content (set by the worker). Usually derived from the
   * fingerprint, but kept when a locally written file is persisted and its store fingerprint
   * becomes known, so its cached pages stay valid. Implementations store it as given.
   */
  readonly cacheId?: string;
  /** Set while the content lives only in a local staging file (MUST_CACHE, ASYNC_THROUGH before persist). */
  readonly staging?: string;
}

export type PersistenceState = 'PERSISTED' | 'TO_BE_PERSISTED' | 'NOT_PERSISTED';

export interface FileAttrs {
  readonly pinned?: boolean;
  /** Time to live in ms from ttlStartMs; absent = no TTL. */
  readonly ttlMs?: number;
  readonly ttlAction?: 'free' | 'delete';
  readonly ttlStartMs?: number;
  readonly persistence?: PersistenceState;
}

export interface Listing {
  readonly syncedAtMs: number;
  /** Direct children, sorted by path. */
  readonly entries: FileRecord[];
}

/** Where a listing page starts: after a child name (exclusive) or at one (inclusive); neither: the first child. */
export interface ListingPageOptions {
  readonly startAfter?: string;
  readonly startAt?: string;
  /** Most entries returned (a positive integer). */
  readonly limit: number;
}

export interface ListingPage {
  /** Whether a complete listing of the directory is stored (putListing / completeListing). */
  readonly complete: boolean;
  /** When the complete listing was taken from the store; 0 when not complete. */
  readonly syncedAtMs: number;
  /** Children in name order (UTF-8 bytes) from the start point, at most `limit`. */
  readonly entries: FileRecord[];
  /** Whether children follow the last entry. */
  readonly more: boolean;
}

/** Names a listing chunk covers: after `after` (exclusive) through `through` (inclusive); absent ends are open. */
export interface ListingChunkRange {
  readonly after?: string;
  readonly through?: string;
}

export interface MetaStore {
  open(): Promise<void>;
  close(): Promise<void>;

  getStatus(path: string): Promise<FileRecord | undefined>;
  putStatus(record: FileRecord): Promise<void>;
  /** Forgets a path's status and drops its parent's listing (it is no longer complete). */
  invalidate(path: string): Promise<void>;
  /** Forgets every status, listing and attribute at or below `path` (unmount, recursive delete). */
  deleteTree(path: string): Promise<void>;

  /** A listing previously stored with putListing, or undefined. */
  getListing(dir: string): Promise<Listing | undefined>;
  /**
   * Replaces the children of `dir` in one atomic batch and marks the listing complete. With a
   * `token` (listingToken() taken before the store was listed), a listing that `dir` changed
   * after (an invalidate of it or of a child, a deleteTree) is not kept: it may lack that change.
   */
  putListing(dir: string, entries: readonly FileRecord[], syncedAtMs: number, token?: number): Promise<void>;
  /** Where listing changes stand now, for putListing's `token`. */
  listingToken?(): number;

  /**
   * One page of the stored children of `dir`, read as a key range (never the whole directory).
   * Entries are the statuses stored under `dir`, complete or not (`complete` tells).
   */
  listingPage(dir: string, options: ListingPageOptions): Promise<ListingPage>;
  /**
   * One chunk of a listing written page by page (a directory too large for one putListing):
   * replaces the children of `dir` whose names fall in `range` with `entries` (each inside the
   * range) and drops the complete marker until completeListing. Returns the old records it
   * removed or whose fingerprint changed (their cached pages can never be served again). With a
   * `token` (as putListing's), a chunk of a directory changed since is not written (or, changed
   * while it was written, not trusted): undefined, and the listing must not be completed.
   */
  putListingChunk(
    dir: string,
    entries: readonly FileRecord[],
    range: ListingChunkRange,
    token?: number,
  ): Promise<FileRecord[] | undefined>;
  /**
   * Part of a listing streamed in no particular order (a store read as it comes, never the whole
   * directory at once): upserts `entries`, each a direct child of `dir`, and drops the complete
   * marker. Returns the old records whose fingerprint changed. `token` as putListingChunk's.
   */
  mergeListingEntries(
    dir: string,
    entries: readonly FileRecord[],
    token?: number,
  ): Promise<FileRecord[] | undefined>;
  /**
   * Ends a streamed listing taken at `syncedAtMs`: deletes the children of `dir` last confirmed
   * before it (the listing did not have them) and returns them; undefined when refused (`token`).
   */
  sweepListing(dir: string, syncedAtMs: number, token?: number): Promise<FileRecord[] | undefined>;
  /**
   * Marks the chunks written since as the complete listing of `dir`, taken at `syncedAtMs`;
   * with a `token`, not when `dir` changed after it (as putListing). Returns whether it did.
   */
  completeListing(dir: string, syncedAtMs: number, token?: number): Promise<boolean>;

  getAttrs(path: string): Promise<FileAttrs | undefined>;
  /**
   * What getStatus / getAttrs would return, when it is known without a read (null: known to be
   * absent); undefined when only a read can tell. For synchronous fast paths.
   */
  peekStatus?(path: string): FileRecord | null | undefined;
  /**
   * getStatus with a record already in memory returned as is (synchronously, undefined for a
   * known absence) and a promise only when the store must be read: one key and one cache lookup
   * where peekStatus-then-getStatus would build and look up both twice (the stat hot path).
   */
  readStatus?(path: string): FileRecord | undefined | Promise<FileRecord | undefined>;
  peekAttrs?(path: string): FileAttrs | null | undefined;
  /** Merges `patch` into the attributes (undefined values remove keys); synced to disk. */
  setAttrs(path: string, patch: { [K in keyof FileAttrs]?: FileAttrs[K] | undefined }): Promise<FileAttrs>;
  deleteAttrs(path: string): Promise<void>;
  /** All paths with attributes (TTL scans, restoring pins at startup). */
  allAttrs(): AsyncIterable<[string, FileAttrs]>;

  /** Durable journal (sync writes). Keys are caller-chosen ids. */
  journalPut(id: string, value: unknown): Promise<void>;
  journalDelete(id: string): Promise<void>;
  journalEntries(): AsyncIterable<[string, unknown]>;

  /** Approximate counts for reports. */
  stats(): Promise<{ statuses: number; listings: number; attrs: number; journal: number }>;
}
