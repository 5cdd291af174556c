import { constants as fsc } from 'node:fs';
import type { FileInfo, MountInfo, StrataFileSystem, WriteType } from '../client/types.js';
import { StrataError } from '../core/errors.js';
import { isWithin } from '../core/paths.js';
import { type EncodedPage, ListingCache } from './listing-cache.js';

/**
 * What the mount shows about names: attributes, listings and which mount a path is on, with the
 * JS-side caches that back the kernel's. Everything cached here lives at most `cacheMs` (the
 * kernel attr/entry timeout, from the mounts' sync interval), the same bound the kernel's own
 * caches have; a change made through the mount drops what it touches at once (`forget`).
 */

export interface NamespaceViewOptions {
  /** `-o ro`: the whole mount is read-only. */
  readonly readOnly: boolean;
  /** How long attributes and listings may be reused (the kernel attr timeout), ms. */
  readonly cacheMs: number;
  /** Told of every `forget` (the addon's native grants follow the statuses). */
  readonly onForget?: (path: string) => void;
}

const STAT_CACHE_MAX = 200_000;
/** Children per page the addon's open-directory handle asks for. */
export const READDIR_PAGE = 1000;

/** 4 doubles per name, as the addon's fill_stat reads them: mode, size, mtime ms, nlink. */
export function encodeAttrs(
  out: Float64Array,
  at: number,
  type: 'file' | 'directory',
  size: number,
  mtimeMs: number,
  ro: boolean,
): void {
  const dir = type === 'directory';
  out[at] = dir ? fsc.S_IFDIR | (ro ? 0o555 : 0o755) : fsc.S_IFREG | (ro ? 0o444 : 0o644);
  out[at + 1] = dir ? 0 : size;
  out[at + 2] = mtimeMs;
  out[at + 3] = dir ? 2 : 1;
}

export class NamespaceView {
  readonly #fs: StrataFileSystem;
  readonly #o: NamespaceViewOptions;
  #mounts: readonly MountInfo[];
  readonly #stats = new Map<string, { info: FileInfo; until: number }>();
  readonly #listings: ListingCache;
  /** What each path looked like when last opened for reading: the kernel page cache's version. */
  readonly #opened = new Map<string, string>();

  constructor(fs: StrataFileSystem, mounts: readonly MountInfo[], options: NamespaceViewOptions) {
    this.#fs = fs;
    this.#mounts = mounts;
    this.#o = options;
    this.#listings = new ListingCache(options.cacheMs);
  }

  set mounts(m: readonly MountInfo[]) {
    this.#mounts = m;
  }

  /** The mount covering a namespace path (longest prefix). */
  mountOf(path: string): MountInfo | undefined {
    let best: MountInfo | undefined;
    for (const m of this.#mounts) {
      if (isWithin(path, m.path) && (!best || m.path.length > best.path.length)) best = m;
    }
    return best;
  }

  /** Throws READ_ONLY unless a change at `path` is allowed; answers the mount's write type. */
  writable(path: string): WriteType | undefined {
    const m = this.mountOf(path);
    if (this.#o.readOnly || m?.readOnly)
      throw new StrataError('READ_ONLY', `${path} is on a read-only ${this.#o.readOnly ? 'FUSE ' : ''}mount`);
    return m?.writeType;
  }

  readOnlyAt(path: string): boolean {
    return this.#o.readOnly || this.mountOf(path)?.readOnly === true;
  }

  async status(path: string): Promise<FileInfo> {
    const now = Date.now();
    const hit = this.#stats.get(path);
    if (hit && hit.until > now) return hit.info;
    const info = await this.#fs.status(path);
    this.remember(info, now);
    return info;
  }

  /** Keeps attributes learned at `at` (a status, a listing, a commit) for the cache bound. */
  remember(info: FileInfo, at = Date.now()): void {
    if (this.#o.cacheMs <= 0) return;
    if (this.#stats.size >= STAT_CACHE_MAX) this.#stats.clear();
    this.#stats.set(info.path, { info, until: at + this.#o.cacheMs });
  }

  /** A change through the mount: drops cached attributes of a path and its tree, and the listings that show it. */
  forget(path: string): void {
    this.#o.onForget?.(path);
    this.#listings.forget(path);
    this.#stats.delete(path);
    this.#opened.delete(path);
    for (const k of this.#stats.keys()) if (isWithin(k, path)) this.#stats.delete(k);
    for (const k of this.#opened.keys()) if (isWithin(k, path)) this.#opened.delete(k);
  }

  /** How much longer the cached status of `path` is fresh, ms (0: none). */
  freshFor(path: string, now = Date.now()): number {
    const hit = this.#stats.get(path);
    return hit ? Math.max(0, hit.until - now) : 0;
  }

  async attrs(path: string): Promise<Float64Array> {
    const out = new Float64Array(4);
    const info = await this.status(path);
    const type = info.type === 'directory' ? 'directory' : 'file';
    encodeAttrs(out, 0, type, info.size, info.mtimeMs, this.readOnlyAt(path));
    return out;
  }

  /**
   * Whether the kernel may keep its page cache of `info.path` on this open: only if the file is
   * the same version (fingerprint, size, mtime) the previous open saw. Otherwise the open drops the
   * cached pages, so an overwrite made elsewhere is read whole and new once its status is seen.
   */
  keepCache(info: FileInfo): boolean {
    const version = `${info.fingerprint}\0${info.size}\0${info.mtimeMs}`;
    const keep = this.#opened.get(info.path) === version;
    if (!keep) {
      if (this.#opened.size >= STAT_CACHE_MAX) this.#opened.clear();
      this.#opened.set(info.path, version);
    }
    return keep;
  }

  /**
   * One page of a directory for the addon's open-directory handle: after `after` (the name that
   * ended the previous page), or — a seekdir elsewhere — the page at child index `skip`, found by
   * paging from the first. Answers names, attributes and whether more follow.
   */
  async readdir(path: string, after: string | null, skip: number): Promise<EncodedPage> {
    const key = ListingCache.key(after, skip);
    const hit = this.#listings.get(path, key);
    if (hit) return hit;
    const fetchedAt = Date.now();
    let page = await this.#fs.listPage(path, { startAfter: after ?? '', limit: READDIR_PAGE });
    let left = after === null ? skip : 0;
    while (left >= page.entries.length && page.nextStartAfter !== undefined) {
      left -= page.entries.length;
      page = await this.#fs.listPage(path, { startAfter: page.nextStartAfter, limit: READDIR_PAGE });
    }
    if (left > 0) page = { ...page, entries: page.entries.slice(left) };
    const ro = this.readOnlyAt(path);
    const names: string[] = [];
    const attrs = new Float64Array(page.entries.length * 4);
    let i = 0;
    for (const e of page.entries) {
      if (e.name === '' || e.name.includes('/')) continue;
      names.push(e.name);
      encodeAttrs(attrs, i * 4, e.type === 'directory' ? 'directory' : 'file', e.size, e.mtimeMs, ro);
      this.remember(e, fetchedAt);
      i++;
    }
    const encoded: EncodedPage = [
      Buffer.from(names.length ? `${names.join('\0')}\0` : ''),
      attrs.subarray(0, i * 4),
      page.nextStartAfter !== undefined,
    ];
    this.#listings.set(path, key, encoded, i, fetchedAt);
    return encoded;
  }
}
