import { isWithin, parentOf } from '../core/paths.js';

/**
 * Directory pages as the addon asks for them, kept for the kernel attr/entry timeout (the mount's
 * sync interval), so a repeated walk (`find`, `ls -R`, a data loader's glob) costs no listing RPC
 * per page. The staleness bound is the one the kernel's own attribute and entry caches already
 * have: a change made elsewhere (S3 PUT, the CLI, another client) shows after at most `ttlMs`;
 * a change made through this mount drops the affected listings at once (`forget`).
 *
 * Pages are kept encoded (names + attribute array, what the addon takes), so a warm page is one
 * map lookup. Memory is bounded by `maxEntries` children over all pages (oldest directory first out).
 */

/** One encoded page: NUL-terminated names, 4 doubles of attributes per name, more follow. */
export type EncodedPage = readonly [names: Buffer, attrs: Float64Array, more: boolean];

interface DirPages {
  readonly until: number;
  readonly pages: Map<string, EncodedPage>;
  entries: number;
}

export class ListingCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #dirs = new Map<string, DirPages>();
  #entries = 0;

  constructor(ttlMs: number, maxEntries = 200_000) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
  }

  get enabled(): boolean {
    return this.#ttlMs > 0;
  }

  static key(after: string | null, skip: number): string {
    return after === null ? `#${skip}` : `>${after}`;
  }

  get(dir: string, key: string, now = Date.now()): EncodedPage | undefined {
    const d = this.#dirs.get(dir);
    if (!d) return undefined;
    if (d.until <= now) {
      this.#drop(dir, d);
      return undefined;
    }
    return d.pages.get(key);
  }

  /** Keeps a page fetched at `fetchedAt` (the bound counts from the fetch, not from the answer). */
  set(dir: string, key: string, page: EncodedPage, count: number, fetchedAt: number): void {
    if (!this.enabled || count > this.#maxEntries) return;
    let d = this.#dirs.get(dir);
    if (d && d.until <= Date.now()) {
      this.#drop(dir, d);
      d = undefined;
    }
    if (!d) {
      // The directory's pages expire together: a walk never mixes two generations for long.
      d = { until: fetchedAt + this.#ttlMs, pages: new Map(), entries: 0 };
      this.#dirs.set(dir, d);
    }
    const old = d.pages.get(key);
    if (old) return;
    d.pages.set(key, page);
    d.entries += count;
    this.#entries += count;
    for (const [name, victim] of this.#dirs) {
      if (this.#entries <= this.#maxEntries) break;
      this.#drop(name, victim);
    }
  }

  /** A change through the mount at `path`: its own listing, its subtree's and its parent's go. */
  forget(path: string): void {
    const parent = parentOf(path);
    for (const [dir, d] of this.#dirs) {
      if (dir === parent || isWithin(dir, path)) this.#drop(dir, d);
    }
  }

  get size(): number {
    return this.#entries;
  }

  #drop(dir: string, d: DirPages): void {
    if (this.#dirs.get(dir) !== d) return;
    this.#dirs.delete(dir);
    this.#entries -= d.entries;
  }
}
