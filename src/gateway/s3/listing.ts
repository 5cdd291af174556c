import type { FileInfo, StrataFileSystem } from '../../client/types.js';
import { isStrataError } from '../../core/errors.js';
import { compareUtf8 } from '../../core/utf8-order.js';
import { RESERVED_DIR } from './keys.js';
import { patchInfos, sameInfos, sortEntries } from './listing-entries.js';
import { LARGE, PageCache } from './listing-pages.js';
import { childStatus, sortedPages } from './listing-stream.js';
import { SidecarMemo } from './sidecar-memo.js';

/**
 * S3 listing over a directory tree. Children are visited sorted by name (directories as
 * "name/"), which yields keys in UTF-8 binary order; a directory whose key already contains the
 * delimiter after the prefix becomes one CommonPrefix without being read; subtrees entirely
 * before the marker are skipped. Sorted listings of small directories (one listPage) are cached
 * for a short time so paging through a prefix does not re-read and re-sort them for every page;
 * a larger directory is walked a page at a time from the worker (listing-stream.ts), so no
 * listing request holds a whole large directory.
 */

/** Children a directory may have to be kept whole (one listPage); above it the cache holds LARGE. */
export const WHOLE_LISTING = 1000;

export interface DirEntry {
  readonly name: string;
  /** name, plus "/" for a directory: the sort key. */
  readonly sortKey: string;
  readonly info: FileInfo;
}

/**
 * The directory listings a result was built from (dir → the sorted array, or undefined for a
 * missing directory): the result stays valid while list() returns the same arrays.
 */
export type ListingDeps = Map<string, DirEntry[] | undefined>;

export class ListingCache {
  /** Serialised listing pages, valid while their directories are unchanged. */
  readonly pages = new PageCache();
  /** ETags of sidecars this gateway wrote or read, for listings (sidecar-memo.ts). */
  readonly sidecars = new SidecarMemo();
  private readonly inflight = new Map<string, Promise<DirEntry[] | undefined>>();
  /** Bumped by every invalidate(). */
  private epoch = 0;

  private readonly entries = new Map<
    string,
    {
      at: number;
      list: DirEntry[] | undefined;
      infos?: readonly FileInfo[];
      names?: Set<string>;
      /** A file stands at the path: on an object store, keys below it may exist all the same. */
      fileAt?: boolean;
    }
  >();
  /** Bumped by every replaced() that records a write. */
  private patchSeq = 0;
  /**
   * Files written through this gateway (dir → name → its info and patchSeq), applied on top of
   * every relist of the directory that began before the write; dropped once a relist that began
   * after it was kept.
   */
  private readonly writes = new Map<string, Map<string, { info: FileInfo; seq: number }>>();
  /** Directories dropped alone by replaced(), and how often (a relist that began before is not kept). */
  private readonly dropped = new Map<string, number>();
  /** Directories seen listed since the last invalidate() (a dropped listing leaves its name here). */
  private readonly knownDirs = new Set<string>();
  private readonly ttlMs: number;
  private readonly maxDirs: number;
  private readonly now: () => number;
  constructor(
    readonly fs: StrataFileSystem,
    options: {
      /** A listing older than this is refreshed (served once more meanwhile). */
      ttlMs?: number;
      /** Directories kept (least recently refreshed dropped first). */
      maxDirs?: number;
      /** The clock (milliseconds); tests pass their own. */
      now?: () => number;
    } = {},
  ) {
    this.ttlMs = options.ttlMs ?? 2000;
    this.maxDirs = options.maxDirs ?? 256;
    this.now = options.now ?? Date.now;
  }

  /**
   * Sorted children of a directory; undefined when it is missing or not a directory. A large
   * directory is listed whole for this call (not kept): callers of big prefixes use walk().
   */
  async list(dir: string, deps?: ListingDeps): Promise<DirEntry[] | undefined> {
    const list = await this.load(dir);
    deps?.set(dir, list);
    return list === LARGE ? sortEntries(await this.fs.list(dir)) : list;
  }

  /** list() for walk(): LARGE for a directory to be read page by page. */
  async source(dir: string, deps?: ListingDeps): Promise<DirEntry[] | undefined> {
    const list = await this.load(dir);
    deps?.set(dir, list);
    return list;
  }

  /** True while every directory in `deps` lists as the same array (re-listed after the TTL). */
  async unchanged(deps: ListingDeps): Promise<boolean> {
    for (const [dir, list] of deps) if (list === LARGE || (await this.load(dir)) !== list) return false;
    return true;
  }

  /**
   * A fresh listing from memory; a stale one (older than the TTL) is still served once while it
   * is refreshed in the background, so a request never waits on a relist of something it already
   * has (a missing sidecar directory on a remote store costs a round trip to confirm). Only a
   * directory not cached at all (or invalidated by a change through this gateway) is waited for.
   */
  private async load(dir: string): Promise<DirEntry[] | undefined> {
    const hit = this.entries.get(dir);
    if (hit) {
      if (this.now() - hit.at >= this.ttlMs && !this.inflight.has(dir))
        this.fetch(dir).catch(() => undefined); // an error is seen by the next foreground fetch
      return hit.list;
    }
    return this.fetch(dir);
  }

  /** One relist per directory at a time; its result is kept only if nothing was invalidated meanwhile. */
  private fetch(dir: string): Promise<DirEntry[] | undefined> {
    const running = this.inflight.get(dir);
    if (running) return running;
    const epoch = this.epoch;
    const done = this.relist(dir, epoch, this.patchSeq, this.dropped.get(dir) ?? 0).finally(() => {
      if (this.inflight.get(dir) === done) this.inflight.delete(dir);
    });
    this.inflight.set(dir, done);
    return done;
  }

  private async relist(
    dir: string,
    startEpoch: number,
    startSeq: number,
    startDrops: number,
  ): Promise<DirEntry[] | undefined> {
    const valid = () => startEpoch === this.epoch && (this.dropped.get(dir) ?? 0) === startDrops;
    let infos: readonly FileInfo[];
    try {
      const page = await this.fs.listPage(dir, { limit: WHOLE_LISTING });
      if (page.nextStartAfter !== undefined) {
        if (valid()) this.remember(dir, LARGE);
        return LARGE;
      }
      infos = page.entries;
    } catch (err) {
      if (isStrataError(err, 'NOT_FOUND') || isStrataError(err, 'NOT_A_DIRECTORY')) {
        if (valid())
          this.remember(dir, undefined, undefined, undefined, isStrataError(err, 'NOT_A_DIRECTORY'));
        return undefined;
      }
      throw err;
    }
    // Files written since this relist began may be missing from what it read: applied on top.
    const hit = this.entries.get(dir);
    const later = [...(this.writes.get(dir) ?? [])].filter(([, x]) => x.seq > startSeq);
    if (later.length > 0) {
      const patched = patchInfos(infos, later);
      if (patched === undefined) return sortEntries(infos); // a directory of that name: not kept
      infos = patched;
    }
    let list: DirEntry[];
    if (hit?.list && hit.list !== LARGE && sameInfos(hit.infos, infos)) {
      // Unchanged (the worker hands out the same FileInfo objects): keep the sorted entries.
      list = hit.list;
      if (valid()) this.remember(dir, list, infos, hit.names);
    } else {
      list = sortEntries(infos);
      if (valid()) this.remember(dir, list, infos);
    }
    if (valid()) {
      // What this relist saw need not be applied again.
      if (later.length === 0) this.writes.delete(dir);
      else this.writes.set(dir, new Map(later));
    }
    return list;
  }

  /**
   * After a write through this gateway of the file at `path` (`info`: what the write returned).
   * A write into a directory known to exist changes no listing above it, so its ancestors'
   * listings stay (invalidate() drops them all): an overwrite of a listed file puts `info` in
   * place in the directory's cached listing (and on top of relists that began before it), any
   * other write (a new name, a sidecar: no `info`) drops that directory's listing alone. Under a
   * steady load of PUTs every LIST used to wait on a relist of the whole bucket (issue 16).
   * A directory not known to exist: invalidate(), and from then on it is known (the write made
   * it; a later invalidate() forgets it). Sidecar writes need that: their directory's listing is
   * seldom cached (the sidecar memo answers for it), and each dropped the whole bucket's.
   */
  replaced(path: string, info?: FileInfo): void {
    const slash = path.lastIndexOf('/');
    const dir = slash <= 0 ? '/' : path.slice(0, slash);
    const name = path.slice(slash + 1);
    const e = this.entries.get(dir);
    if (!this.knownDirectory(dir, e?.list)) {
      this.invalidate(dir);
      // It exists now (the write made it): the next write there changes nothing above it.
      this.knownDirs.add(dir);
      return;
    }
    if (info?.type !== 'file' || info.name !== name) {
      this.dropAlone(dir);
      return;
    }
    if (this.writes.size >= 1_000 && !this.writes.has(dir)) {
      // Bounded: relists running now would miss what is forgotten, so none of them is kept.
      this.writes.clear();
      this.epoch++;
    }
    const seq = ++this.patchSeq;
    const mine = this.writes.get(dir) ?? new Map<string, { info: FileInfo; seq: number }>();
    mine.set(name, { info, seq });
    this.writes.set(dir, mine);
    if (e?.list === undefined) return; // not cached: a relist running now applies it when it ends
    const infos = e.list === LARGE || !e.infos ? undefined : patchInfos(e.infos, [[name, { info }]]);
    if (infos === undefined) {
      this.dropAlone(dir); // LARGE, or a directory of that name
      return;
    }
    const listed = e.list.find((x) => x.name === name);
    this.entries.set(dir, {
      at: e.at,
      list: listed ? e.list.map((x) => (x === listed ? { ...x, info } : x)) : sortEntries(infos),
      infos,
      ...(listed && e.names ? { names: e.names } : {}),
    });
  }

  /** Drops the listing of `dir` alone: relists of other directories running now stay valid. */
  private dropAlone(dir: string): void {
    if (this.dropped.size >= 10_000) {
      this.dropped.clear();
      this.epoch++;
    }
    this.dropped.set(dir, (this.dropped.get(dir) ?? 0) + 1);
    this.entries.delete(dir);
    this.inflight.delete(dir);
  }

  /** Whether `dir` is a directory by what is cached: its own listing, or its parent's. */
  private knownDirectory(dir: string, own: DirEntry[] | undefined): boolean {
    if (own !== undefined) return true; // a listing (or LARGE): only a directory has one
    if (dir === '/' || this.entries.has(dir)) return false; // cached as missing or a file
    if (this.knownDirs.has(dir)) return true;
    const slash = dir.lastIndexOf('/');
    const parent = this.entries.get(slash <= 0 ? '/' : dir.slice(0, slash))?.list;
    if (parent === undefined || parent === LARGE) return false;
    const name = dir.slice(slash + 1);
    return parent.some((x) => x.name === name && x.info.type === 'directory');
  }

  private remember(
    dir: string,
    list: DirEntry[] | undefined,
    infos?: readonly FileInfo[],
    names?: Set<string>,
    fileAt = false,
  ): void {
    this.entries.delete(dir);
    this.entries.set(dir, {
      at: this.now(),
      list,
      ...(infos ? { infos } : {}),
      ...(names ? { names } : {}),
      ...(fileAt ? { fileAt } : {}),
    });
    if (list !== undefined) {
      if (this.knownDirs.size >= 10_000) this.knownDirs.clear();
      this.knownDirs.add(dir);
    }
    if (this.entries.size > this.maxDirs) this.entries.delete(this.entries.keys().next().value as string);
  }

  /**
   * has() answered from memory when the directory's listing is cached and fresh; undefined when
   * it would need a lookup. Lets a listing page skip an await per key.
   */
  peekHas(dir: string, name: string, deps?: ListingDeps): boolean | undefined {
    const e = this.entries.get(dir);
    if (!e) return undefined;
    if (this.now() - e.at >= this.ttlMs && !this.inflight.has(dir)) this.fetch(dir).catch(() => undefined);
    deps?.set(dir, e.list);
    // A file at the path ("a" beside "a/b" on an s3:// store): its children need a lookup each.
    if (!e.list) return e.fileAt ? undefined : false;
    if (e.list === LARGE) return undefined;
    e.names ??= new Set(e.list.map((x) => x.name));
    return e.names.has(name);
  }

  /** Whether `dir` (cached listing) has a child `name`; false when `dir` is missing. */
  async has(dir: string, name: string): Promise<boolean> {
    const list = await this.load(dir);
    if (list === LARGE || (list === undefined && this.entries.get(dir)?.fileAt))
      return (await childStatus(this.fs, `${dir === '/' ? '' : dir}/${name}`)) !== undefined;
    // From the entry's name set; a listing not kept (invalidated meanwhile) is searched directly.
    return this.peekHas(dir, name) ?? list?.some((x) => x.name === name) ?? false;
  }

  /** The cached listing of `dir` as it is now (after a has() or list()), for dependency tracking. */
  peekList(dir: string): DirEntry[] | undefined {
    return this.entries.get(dir)?.list;
  }

  /** Forgets `path` and its ancestors' listings (call after every change made through the gateway). */
  invalidate(path: string): void {
    this.epoch++; // relists already running must not put back what they read before the change
    this.knownDirs.clear(); // a directory at or below `path` may have gone
    for (let p = path; ; ) {
      this.entries.delete(p);
      this.inflight.delete(p);
      if (p === '/' || p === '') return;
      const i = p.lastIndexOf('/');
      p = i <= 0 ? '/' : p.slice(0, i);
    }
  }
}

export type ListItem =
  | { readonly kind: 'key'; readonly key: string; readonly info: FileInfo; readonly dirObject: boolean }
  | { readonly kind: 'prefix'; readonly prefix: string };

export interface ListRequest {
  readonly bucket: string;
  readonly prefix: string;
  readonly delimiter: string;
  /** Exclusive lower bound (marker / start-after / continuation). */
  readonly after: string;
}

/** Items per batch: enough to amortise the async step, small enough not to overshoot a page. */
const BATCH = 128;

/**
 * Yields keys and common prefixes in order, in batches (one async step per batch, not per key:
 * a 1,000-key page is a few steps).
 */
export async function* walk(
  cache: ListingCache,
  req: ListRequest,
  deps?: ListingDeps,
): AsyncGenerator<ListItem[]> {
  const { prefix, delimiter, after } = req;
  const cut = prefix.lastIndexOf('/');
  const startKeyPrefix = cut >= 0 ? prefix.slice(0, cut + 1) : '';
  const startDir = `/${req.bucket}${startKeyPrefix ? `/${startKeyPrefix.slice(0, -1)}` : ''}`;
  // Keys with empty segments cannot exist here, so a prefix like "a//" matches nothing.
  if (startKeyPrefix.includes('//') || startKeyPrefix.startsWith('/')) return;
  let lastPrefix: string | undefined;
  let batch: ListItem[] = [];

  async function* visit(dir: string, keyPrefix: string, self?: FileInfo): AsyncGenerator<ListItem[]> {
    const entries = await cache.source(dir, deps);
    if (!entries) return;
    if (entries === LARGE) {
      // Read in pages from the first child whose sort key can reach the bounds.
      let bound = namePrefixOf(keyPrefix);
      if (after.startsWith(keyPrefix)) {
        const rest = after.slice(keyPrefix.length);
        const slash = rest.indexOf('/');
        const b = slash >= 0 ? rest.slice(0, slash + 1) : rest;
        if (compareUtf8(b, bound) > 0) bound = b;
      }
      for await (const chunk of sortedPages(cache.fs, dir, bound)) {
        for (const e of chunk)
          if ((yield* step(dir, keyPrefix, namePrefixOf(keyPrefix), e)) === 'stop') return;
      }
      return;
    }
    if (entries.length === 0) {
      // An empty directory is listed as a directory object "dir/"; the start directory only when
      // the prefix names it ("dir/"), never the bucket itself.
      let info = self;
      if (dir === startDir && keyPrefix !== '' && prefix === keyPrefix) {
        const slash = dir.lastIndexOf('/');
        const parent = dir.slice(0, slash) || '/';
        const siblings = await cache.source(parent, deps);
        info =
          siblings === LARGE
            ? await childStatus(cache.fs, dir)
            : siblings?.find((s) => s.name === dir.slice(slash + 1))?.info;
      } else if (dir === startDir) info = undefined;
      if (info) {
        const item = keyItem(keyPrefix, info, true);
        if (item) batch.push(item);
      }
      return;
    }
    const namePrefix = namePrefixOf(keyPrefix);
    let from = lowerBound(entries, namePrefix);
    if (after.startsWith(keyPrefix)) {
      const rest = after.slice(keyPrefix.length);
      const slash = rest.indexOf('/');
      from = Math.max(from, lowerBound(entries, slash >= 0 ? rest.slice(0, slash + 1) : rest));
    }
    for (let i = from; i < entries.length; i++) {
      if ((yield* step(dir, keyPrefix, namePrefix, entries[i]!)) === 'stop') return;
    }
  }

  /** One child of a visited directory, in S3 order; 'stop' once past the prefix. */
  async function* step(
    dir: string,
    keyPrefix: string,
    namePrefix: string,
    e: DirEntry,
  ): AsyncGenerator<ListItem[], 'stop' | undefined> {
    if (batch.length >= BATCH) {
      yield batch;
      batch = [];
    }
    if (namePrefix && !e.sortKey.startsWith(namePrefix) && !namePrefix.startsWith(e.sortKey)) return 'stop';
    if (keyPrefix === '' && e.name === RESERVED_DIR) return undefined;
    const key = keyPrefix + e.sortKey;
    if (e.info.type === 'directory') {
      if (!(key.startsWith(prefix) || prefix.startsWith(key))) return undefined;
      if (compareUtf8(key, after) <= 0 && !after.startsWith(key)) return undefined;
      if (delimiter && key.startsWith(prefix)) {
        const idx = key.indexOf(delimiter, prefix.length);
        if (idx >= 0) {
          const cp = key.slice(0, idx + delimiter.length);
          if (cp !== lastPrefix && compareUtf8(cp, after) > 0 && !after.startsWith(cp)) {
            lastPrefix = cp;
            batch.push({ kind: 'prefix', prefix: cp });
          }
          return undefined;
        }
      }
      yield* visit(`${dir === '/' ? '' : dir}/${e.name}`, key, e.info);
    } else {
      const item = keyItem(key, e.info, false);
      if (item) batch.push(item);
    }
    return undefined;
  }

  /** The part of the prefix that names children of the directory at keyPrefix ('' below it). */
  function namePrefixOf(keyPrefix: string): string {
    return prefix.startsWith(keyPrefix) ? prefix.slice(keyPrefix.length) : '';
  }

  /** The item a key contributes (itself or its common prefix), if any. */
  function keyItem(key: string, info: FileInfo, dirObject: boolean): ListItem | undefined {
    if (!key.startsWith(prefix) || compareUtf8(key, after) <= 0) return undefined;
    if (delimiter) {
      const idx = key.indexOf(delimiter, prefix.length);
      if (idx >= 0) {
        const cp = key.slice(0, idx + delimiter.length);
        if (cp !== lastPrefix && compareUtf8(cp, after) > 0 && !after.startsWith(cp)) {
          lastPrefix = cp;
          return { kind: 'prefix', prefix: cp };
        }
        return undefined;
      }
    }
    return { kind: 'key', key, info, dirObject };
  }

  yield* visit(startDir, startKeyPrefix);
  if (batch.length > 0) yield batch;
}

/** First index whose sort key is >= `bound`. */
function lowerBound(entries: readonly DirEntry[], bound: string): number {
  if (bound === '') return 0;
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareUtf8(entries[mid]!.sortKey, bound) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
