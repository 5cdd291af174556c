/**
 * The metadata store's listing writes (level-meta-store.ts keeps the state, these the logic):
 * a whole listing (putListing), a listing in name-range chunks (putListingChunk), a listing
 * streamed in no order (mergeListingEntries, then sweepListing), and the complete marker
 * (completeListing). Each runs under the directory's lock and honours the listing token: a
 * listing read from the store before a change of the directory never overwrites that change.
 */
import type { ClassicLevel } from 'classic-level';
import { StrataError } from '../core/errors.js';
import type { KeyLock } from '../core/key-lock.js';
import { parentOf } from '../core/paths.js';
import { compareUtf8 } from '../core/utf8-order.js';
import {
  checkPath,
  childrenBetween,
  childrenRange,
  listingKey,
  pathOfStatusKey,
  statusKey,
} from './meta-keys.js';
import type { FileAttrs, FileRecord, Listing, ListingChunkRange } from './meta-store.js';
import { decodeStatus, encodeStatus, syncedAtOf } from './record-codec.js';
import type { ValueCache } from './value-cache.js';

/** Largest listing kept in memory (entries); larger directories are read a page at a time. */
export const MAX_CACHED_LISTING = 10_000;

/** What the listing writes use of the store: its database, lock, caches and helpers. */
export interface ListingWriteState {
  readonly db: ClassicLevel<string, string>;
  readonly locks: KeyLock;
  readonly cache: ValueCache<FileRecord | FileAttrs>;
  readonly listings: ValueCache<Listing>;
  run<T>(op: string, fn: () => Promise<T>): Promise<T>;
  /** Whether `dir`'s listing changed after `token` was taken (never, without a token). */
  changedSince(dir: string, token: number | undefined): boolean;
  /** A range read in chunks (bounded memory). */
  chunks<T>(open: () => { nextv(size: number): Promise<T[]>; close(): Promise<void> }): AsyncGenerator<T[]>;
  /** Keeps a just-written listing in memory. */
  remember(dir: string, listing: Listing, token: number | undefined): void;
}

/** The encoded statuses of `entries` by key; each must be a direct child of `dir`. */
function childPuts(dir: string, entries: readonly FileRecord[]): Map<string, string> {
  checkPath(dir);
  const puts = new Map<string, string>();
  for (const e of entries) {
    checkPath(e.path);
    if (e.path === '/' || parentOf(e.path) !== dir) {
      throw new StrataError('INVALID_ARGUMENT', `${e.path} is not a direct child of ${dir}`, {
        details: { dir, path: e.path },
      });
    }
    puts.set(statusKey(e.path), encodeStatus(e));
  }
  return puts;
}

export async function putListingIn(
  s: ListingWriteState,
  dir: string,
  entries: readonly FileRecord[],
  syncedAtMs: number,
  token?: number,
): Promise<void> {
  const puts = childPuts(dir, entries);
  const decoded = new Map<string, FileRecord>();
  // Serialised per directory: two concurrent replacements would each delete only what they saw.
  await s.locks.run(listingKey(dir), () =>
    s.run('putListing', async () => {
      // Read from the store before a change of the directory: it may lack that change.
      if (s.changedSince(dir, token)) return;
      const batch = s.db.batch();
      try {
        for await (const keys of s.chunks(() => s.db.keys(childrenRange(dir)))) {
          for (const k of keys) {
            if (puts.has(k)) continue;
            batch.del(k);
            s.cache.write(k, undefined);
          }
        }
        for (const [k, v] of puts) batch.put(k, v);
        batch.put(listingKey(dir), JSON.stringify({ syncedAtMs }));
        for (const [k, v] of puts) {
          const record = decodeStatus(pathOfStatusKey(k), v);
          decoded.set(k, record);
          s.cache.write(k, record);
        }
        s.listings.write(dir, undefined); // until the batch is written
      } catch (err) {
        await batch.close();
        throw err;
      }
      await batch.write();
      if (s.changedSince(dir, token)) {
        // Changed while the batch was written: the change's own delete may have landed first.
        s.listings.write(dir, undefined);
        await s.db.del(listingKey(dir));
        return;
      }
      // What a getListing would now read back (children in key order), without reading it back:
      // the first relist of a huge directory after a sync would otherwise decode it all again.
      if (puts.size <= MAX_CACHED_LISTING) {
        const keys = [...puts.keys()].sort(compareUtf8);
        const entries = keys.map((k) => decoded.get(k)!);
        s.remember(dir, { syncedAtMs, entries }, undefined);
      }
    }),
  );
}

export async function putListingChunkIn(
  s: ListingWriteState,
  dir: string,
  entries: readonly FileRecord[],
  range: ListingChunkRange,
  token?: number,
): Promise<FileRecord[] | undefined> {
  checkPath(dir);
  const prefix = childrenRange(dir).gte;
  const puts = new Map<string, string>();
  for (const e of entries) {
    checkPath(e.path);
    const key = statusKey(e.path);
    const name = key.slice(prefix.length);
    const inside =
      e.path !== '/' &&
      parentOf(e.path) === dir &&
      (range.after === undefined || compareUtf8(name, range.after) > 0) &&
      (range.through === undefined || compareUtf8(name, range.through) <= 0);
    if (!inside)
      throw new StrataError(
        'INVALID_ARGUMENT',
        `${e.path} is not a child of ${dir} inside the chunk's range`,
        {
          details: { dir, path: e.path },
        },
      );
    puts.set(key, encodeStatus(e));
  }
  const dropped: FileRecord[] = [];
  const written = await s.locks.run(listingKey(dir), () =>
    s.run('putListingChunk', async () => {
      // Read from the store before a change of the directory: it may lack that change.
      if (s.changedSince(dir, token)) return false;
      const batch = s.db.batch();
      try {
        batch.del(listingKey(dir));
        s.listings.write(dir, undefined);
        const between = childrenBetween(dir, range.after, range.through);
        for await (const rows of s.chunks(() => s.db.iterator(between))) {
          for (const [k, v] of rows) {
            const next = puts.get(k);
            const old = decodeStatus(pathOfStatusKey(k), v);
            if (next === undefined) {
              batch.del(k);
              s.cache.write(k, undefined);
              dropped.push(old);
            } else if (decodeStatus(old.path, next).fingerprint !== old.fingerprint) dropped.push(old);
          }
        }
        for (const [k, v] of puts) {
          batch.put(k, v);
          s.cache.write(k, decodeStatus(pathOfStatusKey(k), v));
        }
      } catch (err) {
        await batch.close();
        throw err;
      }
      await batch.write();
      return !s.changedSince(dir, token);
    }),
  );
  return written ? dropped : undefined;
}

export async function mergeListingEntriesIn(
  s: ListingWriteState,
  dir: string,
  entries: readonly FileRecord[],
  token?: number,
): Promise<FileRecord[] | undefined> {
  const puts = childPuts(dir, entries);
  const changed: FileRecord[] = [];
  const written = await s.locks.run(listingKey(dir), () =>
    s.run('mergeListingEntries', async () => {
      if (s.changedSince(dir, token)) return false;
      const keys = [...puts.keys()];
      const olds = keys.length === 0 ? [] : await s.db.getMany(keys);
      const batch = s.db.batch();
      batch.del(listingKey(dir));
      s.listings.write(dir, undefined);
      // Only records already in the value cache are replaced there: a cold listing of a huge
      // directory put every one of its records through the 100,000-entry cache, each living long
      // enough to be promoted, and V8 grew its heap by hundreds of MiB of that garbage (issue 17,
      // the cold ListObjectsV2 walk). The rest are read from the store when first asked for.
      s.cache.beginWrite();
      try {
        for (const [i, k] of keys.entries()) {
          const v = puts.get(k)!;
          const old = olds[i];
          const cached = s.cache.has(k);
          if (old !== undefined || cached) {
            const path = pathOfStatusKey(k);
            const record = decodeStatus(path, v);
            if (old !== undefined) {
              const before = decodeStatus(path, old);
              if (before.fingerprint !== record.fingerprint) changed.push(before);
            }
            if (cached) s.cache.write(k, record);
          }
          batch.put(k, v);
        }
        await batch.write();
      } finally {
        s.cache.endWrite();
      }
      return !s.changedSince(dir, token);
    }),
  );
  return written ? changed : undefined;
}

export async function sweepListingIn(
  s: ListingWriteState,
  dir: string,
  syncedAtMs: number,
  token?: number,
): Promise<FileRecord[] | undefined> {
  checkPath(dir);
  const dropped: FileRecord[] = [];
  const done = await s.locks.run(listingKey(dir), () =>
    s.run('sweepListing', async () => {
      if (s.changedSince(dir, token)) return false;
      for await (const rows of s.chunks(() => s.db.iterator(childrenRange(dir)))) {
        const dels: { type: 'del'; key: string }[] = [];
        for (const [k, v] of rows) {
          // Only the children the sweep drops are decoded whole (a cold listing: none of them).
          const path = pathOfStatusKey(k);
          if (syncedAtOf(path, v) >= syncedAtMs) continue;
          const old = decodeStatus(path, v);
          dels.push({ type: 'del', key: k });
          s.cache.write(k, undefined);
          dropped.push(old);
        }
        if (dels.length > 0) await s.db.batch(dels);
      }
      s.listings.write(dir, undefined);
      return !s.changedSince(dir, token);
    }),
  );
  return done ? dropped : undefined;
}

export async function completeListingIn(
  s: ListingWriteState,
  dir: string,
  syncedAtMs: number,
  token?: number,
): Promise<boolean> {
  checkPath(dir);
  return s.locks.run(listingKey(dir), () =>
    s.run('completeListing', async () => {
      if (s.changedSince(dir, token)) return false;
      await s.db.put(listingKey(dir), JSON.stringify({ syncedAtMs }));
      if (!s.changedSince(dir, token)) return true;
      await s.db.del(listingKey(dir)); // changed while the marker was written
      return false;
    }),
  );
}
