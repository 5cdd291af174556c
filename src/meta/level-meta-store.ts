/**
 * MetaStore on classic-level (LevelDB).
 *
 * Engine choice, measured with bench/kv.ts on this testbed (2 cores, ext4, keys ~61 B laid out as
 * below, values ~166 B JSON, random insert order; ops/s):
 *
 *                                        200k keys            1M keys
 *                                   level     lmdb       level     lmdb
 *   insert, batches of 1,000       154,401   35,426     158,716   25,805
 *   get, async, 1 in flight         16,985        -      18,987        -
 *   get, async, 64 in flight       158,006        -     110,394        -
 *   getSync                        156,155  506,537     111,722  359,940   (lmdb get is sync)
 *   dir scan, 1,000 children           417    1,135         312    1,137   (scans/s)
 *   durable single put               3,346    1,758       3,072    1,170
 *   disk size                      20.4 MB  84.6 MB     98.1 MB  380.6 MB
 *
 * LevelDB wins what the metadata store does most and what must not stall: bulk inserts of
 * listings and statuses (4-6x lmdb, whose every commit fsyncs), durable single puts for the
 * journal (2-2.6x) and disk footprint (snappy; about 4x smaller). lmdb wins point reads (about 3x)
 * and directory scans (3-4x), but its reads are synchronous page faults on the event loop once
 * the map outgrows the page cache, while LevelDB's async get runs on the thread pool and still
 * gives 110-160k/s with requests in flight. Statuses are a cache in front of stores whose calls
 * take milliseconds, so that and 300-400 full 1,000-entry listings/s are far from the limit.
 *
 * Key layout: see meta-keys.ts (s + parent + '\0' + name, l + dir, a + path, j + id).
 * Durability: attrs and journal writes use LevelDB `sync: true` (fsync of the write-ahead log,
 * which also covers every earlier unsynced write), those of one turn grouped into one synced batch
 * (group-commit.ts); statuses and listings are a cache and are not
 * synced. Memory: LevelDB's own block cache (8 MB default) and memtable (4 MB); nothing cached in
 * JS beyond the keys of one directory during putListing.
 */
import { mkdir } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import { StrataError, toStrataError } from '../core/errors.js';
import { KeyLock } from '../core/key-lock.js';
import { parentOf } from '../core/paths.js';
import { BatchedReads } from './batched-reads.js';
import { GroupCommit } from './group-commit.js';
import { KeyFilter } from './key-filter.js';
import {
  completeListingIn,
  type ListingWriteState,
  MAX_CACHED_LISTING,
  mergeListingEntriesIn,
  putListingChunkIn,
  putListingIn,
  sweepListingIn,
} from './listing-writes.js';
import {
  attrsKey,
  checkPath,
  childrenFrom,
  childrenRange,
  idOfJournalKey,
  journalKey,
  type KeyRange,
  kindRange,
  listingKey,
  pathOfAttrsKey,
  pathOfStatusKey,
  statusKey,
  subtreeRanges,
} from './meta-keys.js';
import type {
  FileAttrs,
  FileRecord,
  Listing,
  ListingChunkRange,
  ListingPage,
  ListingPageOptions,
  MetaStore,
} from './meta-store.js';
import { decodeAttrs, decodeStatus, encodeAttrs, encodeJson, encodeStatus, parse } from './record-codec.js';
import { ValueCache } from './value-cache.js';

type AttrsPatch = { [K in keyof FileAttrs]?: FileAttrs[K] | undefined };

const SYNC = { sync: true } as const;
/** Entries pulled per native call when streaming a range. */
const CHUNK = 256;
/** stats() counts exactly up to this many keys per kind, then extrapolates by on-disk size. */
const STATS_EXACT_LIMIT = 100_000;
/** The bound on all listings kept in memory together (entries); one: MAX_CACHED_LISTING. */
const MAX_CACHED_LISTING_ENTRIES = 100_000;

export class LevelMetaStore implements MetaStore {
  readonly dir: string;
  readonly #db: ClassicLevel<string, string>;
  readonly #locks = new KeyLock();
  /** Point reads of statuses and attributes (the stat hot path) are served from memory. */
  readonly #cache = new ValueCache<FileRecord | FileAttrs>(100_000, { admitOnSecondRead: true });
  /**
   * Whole listings, so paging through a huge directory (S3 ListObjects, ls) does not rescan it:
   * bounded by entry count; dropped whenever the directory or one of its children changes.
   */
  readonly #listings = new ValueCache<Listing>(256);
  /** Point reads that miss the cache, coalesced into getMany calls (batched-reads.ts). */
  readonly #reads = new BatchedReads((keys) =>
    this.#db.getMany(keys).catch((err: unknown) => {
      throw this.#translate('get', err);
    }),
  );
  /** Durable (synced) attrs and journal writes, one synced batch per turn (group-commit.ts). */
  readonly #durable = new GroupCommit((ops) => this.#db.batch(ops, SYNC));
  /** Attribute keys that may exist (key-filter.ts): a status of a file without any skips a read. */
  readonly #attrsFilter = new KeyFilter();
  #attrsScan: Promise<void> = Promise.resolve();
  #closing = false;
  #listedEntries = 0;
  /**
   * Listing changes: a sequence number, and the last one per directory (putListing's token).
   * Bounded: past 10,000 directories the map is dropped and every older token counts as changed.
   */
  #listingSeq = 0;
  #listingFloor = 0;
  readonly #listingChanges = new Map<string, number>();

  /** What the listing writes (listing-writes.ts) use of this store. */
  readonly #writes: ListingWriteState;

  constructor(dir: string) {
    this.dir = dir;
    this.#db = new ClassicLevel<string, string>(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    this.#writes = {
      db: this.#db,
      locks: this.#locks,
      cache: this.#cache,
      listings: this.#listings,
      run: (op, fn) => this.#run(op, fn),
      changedSince: (d, token) => this.#changedSince(d, token),
      chunks: (open) => this.#chunks(open),
      remember: (d, listing, token) => this.#remember(d, listing, token),
    };
  }

  async open(): Promise<void> {
    await this.#run('open', async () => {
      await mkdir(this.dir, { recursive: true });
      await this.#db.open();
    });
    this.#attrsScan = this.#fillAttrsFilter();
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.#attrsScan;
    await this.#durable.drain();
    await this.#run('close', () => this.#db.close());
  }

  getStatus(path: string): Promise<FileRecord | undefined> {
    try {
      checkPath(path);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#cachedGet(statusKey(path), (v) => decodeStatus(path, v)) as Promise<FileRecord | undefined>;
  }

  /**
   * Raw engine reads of status values, no decoding and no cache: the floor no status() over this
   * store can beat (bench/worker-scale's floor rows). Not for serving: values are undecoded.
   */
  rawStatusValue(path: string): Promise<string | undefined> {
    return this.#db.get(statusKey(path));
  }

  /** rawStatusValue for many paths in one native call (LevelDB getMany). */
  rawStatusValues(paths: readonly string[]): Promise<(string | undefined)[]> {
    return this.#db.getMany(paths.map(statusKey));
  }

  readStatus(path: string): FileRecord | undefined | Promise<FileRecord | undefined> {
    try {
      checkPath(path);
    } catch (err) {
      return Promise.reject(err);
    }
    const key = statusKey(path);
    const hit = this.#db.status === 'open' ? this.#cache.get(key) : undefined; // closed: report it
    if (hit !== undefined) return (hit ?? undefined) as FileRecord | undefined;
    return this.#readThrough(key, (v) => decodeStatus(path, v)) as Promise<FileRecord | undefined>;
  }

  peekStatus(path: string): FileRecord | null | undefined {
    return this.#db.status === 'open'
      ? (this.#cache.get(statusKey(path)) as FileRecord | null | undefined)
      : undefined;
  }

  peekAttrs(path: string): FileAttrs | null | undefined {
    if (this.#db.status !== 'open') return undefined;
    const key = attrsKey(path);
    if (!this.#attrsFilter.mightHave(key)) return null;
    return this.#cache.get(key) as FileAttrs | null | undefined;
  }

  /** Settles once the background scan of attribute keys ended; whether the filter is in use. */
  async attrsFilterReady(): Promise<boolean> {
    await this.#attrsScan;
    return this.#attrsFilter.ready;
  }

  /** The attribute keys stored before this open, into the filter; then it may answer "absent". */
  async #fillAttrsFilter(): Promise<void> {
    try {
      for await (const keys of this.#chunks(() => this.#db.keys(kindRange('a')))) {
        for (const k of keys) this.#attrsFilter.add(k);
        if (this.#closing) return;
      }
      this.#attrsFilter.markReady();
    } catch {
      // Left not ready: every attribute read goes to the store, as without a filter.
    }
  }

  async putStatus(record: FileRecord): Promise<void> {
    checkPath(record.path);
    const key = statusKey(record.path);
    const value = encodeStatus(record);
    this.#cache.write(key, decodeStatus(record.path, value)); // exactly what a read would return
    this.#listings.write(parentOf(record.path), undefined);
    await this.#run('putStatus', () => this.#db.put(key, value));
  }

  listingToken(): number {
    return this.#listingSeq;
  }

  #listingChanged(dir: string | undefined): void {
    this.#listingSeq++;
    if (dir === undefined || this.#listingChanges.size >= 10_000) {
      this.#listingChanges.clear();
      this.#listingFloor = this.#listingSeq;
    } else this.#listingChanges.set(dir, this.#listingSeq);
  }

  #changedSince(dir: string, token: number | undefined): boolean {
    if (token === undefined) return false;
    return Math.max(this.#listingFloor, this.#listingChanges.get(dir) ?? 0) > token;
  }

  async invalidate(path: string): Promise<void> {
    checkPath(path);
    this.#listingChanged(parentOf(path));
    this.#listingChanged(path);
    // Dropping path's own marker unconditionally is cheaper than reading its type first.
    this.#cache.write(statusKey(path), undefined);
    this.#listings.write(parentOf(path), undefined);
    this.#listings.write(path, undefined);
    await this.#run('invalidate', () =>
      this.#db.batch([
        { type: 'del', key: statusKey(path) },
        { type: 'del', key: listingKey(parentOf(path)) },
        { type: 'del', key: listingKey(path) },
      ]),
    );
  }

  async deleteTree(path: string): Promise<void> {
    checkPath(path);
    this.#listingChanged(undefined);
    this.#cache.clear();
    this.#listings.clear();
    // Attribute writes queued before this call land before the clears below, not after them.
    await this.#durable.drain();
    await this.#run('deleteTree', async () => {
      if (path === '/') {
        for (const tag of ['l', 's', 'a'] as const) await this.#db.clear(kindRange(tag));
      } else {
        // Markers first, so no reader sees a listing whose children are half gone. The parent's
        // marker goes too: its listing loses a child it may still need (unmount of a mount point).
        await this.#db.batch([
          { type: 'del', key: listingKey(parentOf(path)) },
          { type: 'del', key: listingKey(path) },
          { type: 'del', key: statusKey(path) },
        ]);
        for (const range of subtreeRanges(path)) await this.#db.clear(range);
      }
      // clear() writes unsynced; one sync write fsyncs the log and with it every delete above
      // (attrs are authoritative). For the root the key 'a' is a no-op: no path is empty.
      await this.#db.batch([{ type: 'del', key: attrsKey(path === '/' ? '' : path) }], SYNC);
    });
  }

  async getListing(dir: string): Promise<Listing | undefined> {
    checkPath(dir);
    const hit = this.#db.status === 'open' ? this.#listings.get(dir) : undefined;
    if (hit) return hit;
    const token = this.#listings.begin();
    const listing = await this.#run('getListing', async () => {
      // One snapshot so the marker and the children come from the same putListing.
      const snapshot = this.#db.snapshot();
      try {
        const marker = await this.#db.get(listingKey(dir), { snapshot });
        if (marker === undefined) return undefined;
        const { syncedAtMs } = parse(marker, dir) as { syncedAtMs: number };
        const rows = await this.#db.iterator({ ...childrenRange(dir), snapshot }).all();
        const entries = rows.map(([k, v]) => decodeStatus(pathOfStatusKey(k), v));
        return { syncedAtMs, entries };
      } finally {
        await snapshot.close();
      }
    });
    if (listing) this.#remember(dir, listing, token);
    return listing;
  }

  /** Keeps a listing in memory: filled after a read (token) or written after a putListing. */
  #remember(dir: string, listing: Listing, token: number | undefined): void {
    if (listing.entries.length > MAX_CACHED_LISTING) return;
    if (this.#listedEntries > MAX_CACHED_LISTING_ENTRIES) {
      this.#listings.clear();
      this.#listedEntries = 0;
    }
    this.#listedEntries += listing.entries.length;
    if (token === undefined) this.#listings.write(dir, listing);
    else this.#listings.fill(dir, listing, token);
  }

  putListing(dir: string, entries: readonly FileRecord[], syncedAtMs: number, token?: number): Promise<void> {
    return putListingIn(this.#writes, dir, entries, syncedAtMs, token);
  }

  async listingPage(dir: string, options: ListingPageOptions): Promise<ListingPage> {
    checkPath(dir);
    const { limit } = options;
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new StrataError('INVALID_ARGUMENT', `listing page limit must be a positive integer: ${limit}`);
    return this.#run('listingPage', async () => {
      // One snapshot so the marker and the page come from the same state of the directory.
      const snapshot = this.#db.snapshot();
      try {
        const marker = await this.#db.get(listingKey(dir), { snapshot });
        const rows = await this.#db
          .iterator({ ...childrenFrom(dir, options), limit: limit + 1, snapshot })
          .all();
        const more = rows.length > limit;
        const entries = (more ? rows.slice(0, limit) : rows).map(([k, v]) =>
          decodeStatus(pathOfStatusKey(k), v),
        );
        const syncedAtMs =
          marker === undefined ? 0 : (parse(marker, dir) as { syncedAtMs: number }).syncedAtMs;
        return { complete: marker !== undefined, syncedAtMs, entries, more };
      } finally {
        await snapshot.close();
      }
    });
  }

  putListingChunk(
    dir: string,
    entries: readonly FileRecord[],
    range: ListingChunkRange,
    token?: number,
  ): Promise<FileRecord[] | undefined> {
    return putListingChunkIn(this.#writes, dir, entries, range, token);
  }

  mergeListingEntries(
    dir: string,
    entries: readonly FileRecord[],
    token?: number,
  ): Promise<FileRecord[] | undefined> {
    return mergeListingEntriesIn(this.#writes, dir, entries, token);
  }

  sweepListing(dir: string, syncedAtMs: number, token?: number): Promise<FileRecord[] | undefined> {
    return sweepListingIn(this.#writes, dir, syncedAtMs, token);
  }

  completeListing(dir: string, syncedAtMs: number, token?: number): Promise<boolean> {
    return completeListingIn(this.#writes, dir, syncedAtMs, token);
  }

  async getAttrs(path: string): Promise<FileAttrs | undefined> {
    checkPath(path);
    if (this.#db.status === 'open' && !this.#attrsFilter.mightHave(attrsKey(path))) return undefined;
    return (await this.#cachedGet(attrsKey(path), (v) => decodeAttrs(path, v))) as FileAttrs | undefined;
  }

  async setAttrs(path: string, patch: AttrsPatch): Promise<FileAttrs> {
    checkPath(path);
    const key = attrsKey(path);
    return this.#locks.run(key, () =>
      this.#run('setAttrs', async () => {
        // A key the filter knows is absent is not read (setAttrs(p, { persistence: undefined }) on
        // every commit of a file without attributes, issue 16).
        const current = this.#attrsFilter.mightHave(key) ? await this.#db.get(key) : undefined;
        const merged: Record<string, unknown> =
          current === undefined ? {} : { ...decodeAttrs(path, current) };
        for (const [k, v] of Object.entries(patch)) {
          if (v === undefined) delete merged[k];
          else merged[k] = v;
        }
        const attrs = merged as FileAttrs;
        const empty = Object.keys(attrs).length === 0;
        if (!empty) this.#attrsFilter.add(key); // before the write: a read meanwhile must look
        // Nothing stored and nothing to store: no write. Deleting an absent key durably changed
        // nothing, yet cost a log fsync per PUT (the statuses and listings written unsynced
        // before it are a cache, so no durability rested on that fsync).
        if (empty && current === undefined) return attrs;
        this.#cache.write(key, empty ? undefined : attrs);
        if (empty) await this.#durable.del(key);
        else await this.#durable.put(key, encodeAttrs(attrs));
        return attrs;
      }),
    );
  }

  async deleteAttrs(path: string): Promise<void> {
    checkPath(path);
    const key = attrsKey(path);
    await this.#locks.run(key, () => {
      this.#cache.write(key, undefined);
      return this.#run('deleteAttrs', () => this.#durable.del(key));
    });
  }

  async *allAttrs(): AsyncIterable<[string, FileAttrs]> {
    for await (const rows of this.#chunks(() => this.#db.iterator(kindRange('a')))) {
      for (const [k, v] of rows) {
        const path = pathOfAttrsKey(k);
        yield [path, decodeAttrs(path, v)];
      }
    }
  }

  async journalPut(id: string, value: unknown): Promise<void> {
    const v = encodeJson(value);
    await this.#run('journalPut', () => this.#durable.put(journalKey(id), v));
  }

  async journalDelete(id: string): Promise<void> {
    await this.#run('journalDelete', () => this.#durable.del(journalKey(id)));
  }

  async *journalEntries(): AsyncIterable<[string, unknown]> {
    for await (const rows of this.#chunks(() => this.#db.iterator(kindRange('j')))) {
      for (const [k, v] of rows) {
        const id = idOfJournalKey(k);
        yield [id, parse(v, `journal ${id}`)];
      }
    }
  }

  async stats(): Promise<{ statuses: number; listings: number; attrs: number; journal: number }> {
    return this.#run('stats', async () => {
      const [statuses, listings, attrs, journal] = await Promise.all(
        (['s', 'l', 'a', 'j'] as const).map((tag) => this.#count(kindRange(tag))),
      );
      return { statuses: statuses ?? 0, listings: listings ?? 0, attrs: attrs ?? 0, journal: journal ?? 0 };
    });
  }

  /** Exact below STATS_EXACT_LIMIT keys; above it, scaled by LevelDB's on-disk size estimate. */
  async #count(range: KeyRange): Promise<number> {
    let n = 0;
    let last: string | undefined;
    for await (const keys of this.#chunks(() => this.#db.keys(range))) {
      n += keys.length;
      last = keys[keys.length - 1];
      if (n >= STATS_EXACT_LIMIT && last !== undefined) {
        const part = await this.#db.approximateSize(range.gte, last);
        // Recent keys may still sit in the memtable (size 0): then keep counting exactly.
        if (part > 0) return Math.round((n * (await this.#db.approximateSize(range.gte, range.lt))) / part);
      }
    }
    return n;
  }

  /** Streams an iterator in chunks so a range of millions never sits in memory at once. */
  async *#chunks<T>(
    open: () => { nextv(size: number): Promise<T[]>; close(): Promise<void> },
  ): AsyncGenerator<T[]> {
    let it: ReturnType<typeof open>;
    try {
      it = open();
    } catch (err) {
      throw this.#translate('iterate', err);
    }
    try {
      for (;;) {
        const items = await this.#run('iterate', () => it.nextv(CHUNK));
        if (items.length === 0) return;
        yield items;
      }
    } finally {
      await it.close();
    }
  }

  /**
   * A point read through the value cache: a hit without a promise of the engine's, a miss in the
   * next getMany batch (not async: one promise per read on the stat hot path, issue 17).
   */
  #cachedGet<T extends FileRecord | FileAttrs>(
    key: string,
    decode: (v: string) => T,
  ): Promise<T | undefined> {
    const hit = this.#db.status === 'open' ? this.#cache.get(key) : undefined; // closed: report it
    if (hit !== undefined) return Promise.resolve((hit ?? undefined) as T | undefined);
    return this.#readThrough(key, decode);
  }

  /** The miss half of #cachedGet: a read in the next getMany batch, its result offered to the cache. */
  #readThrough<T extends FileRecord | FileAttrs>(
    key: string,
    decode: (v: string) => T,
  ): Promise<T | undefined> {
    const token = this.#cache.begin();
    return this.#reads.get(key, (raw) => {
      const value = raw === undefined ? undefined : decode(raw);
      this.#cache.fill(key, value, token);
      return value;
    });
  }

  /** Runs one engine call, translating LevelDB errors into StrataError (keeping the cause). */
  async #run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.#translate(op, err);
    }
  }

  #translate(op: string, err: unknown): StrataError {
    if (err instanceof StrataError) return err;
    const details = { dir: this.dir, op };
    const codes = [codeOf(err), codeOf((err as { cause?: unknown } | undefined)?.cause)];
    if (codes.includes('LEVEL_LOCKED')) {
      return new StrataError('UNAVAILABLE', `metadata store ${this.dir} is in use by another process`, {
        cause: err,
        details,
      });
    }
    if (codes.includes('LEVEL_DATABASE_NOT_OPEN') && op !== 'open') {
      return new StrataError('INTERNAL', `metadata store ${this.dir} is not open (${op})`, {
        cause: err,
        details,
      });
    }
    const base = toStrataError(err);
    // LevelDB reports a full disk as an IO error ("No space left on device"): the table's ENOSPC.
    const full = base.code === 'INTERNAL' && /No space left on device|ENOSPC/i.test(base.message);
    return new StrataError(full ? 'CACHE_FULL' : base.code, `metadata store ${op}: ${base.message}`, {
      cause: err,
      details,
    });
  }
}

function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}
