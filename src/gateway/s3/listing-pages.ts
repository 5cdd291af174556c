import type { DirEntry, ListingDeps } from './listing.js';

/**
 * What the listing cache holds for a directory too large to keep whole (more than one listPage
 * of the worker): walks read it page by page, and pages built from it are never cached (nothing
 * cheap tells that it is unchanged).
 */
export const LARGE = Object.freeze([]) as unknown as DirEntry[];

/**
 * Serialised ListObjects pages. Paging through a large prefix again (a job listing its input on
 * every run) then costs a lookup and a write instead of walking, looking up ETags and writing
 * XML for every key. A page is only served while every directory listing it was built from is
 * unchanged (ListingCache.unchanged), so it is exactly what a fresh walk would produce.
 */

export interface ListingPage {
  /** The <Contents> and <CommonPrefixes> elements, in order. */
  readonly body: Buffer;
  readonly keyCount: number;
  readonly truncated: boolean;
  /** The last key or common prefix on the page (the next marker). */
  readonly lastName: string;
  readonly deps: ListingDeps;
}

/** Bytes of page bodies kept (LRU beyond it). */
const MAX_BYTES = 64 * 1024 * 1024;

export class PageCache {
  private readonly pages = new Map<string, ListingPage>();
  private bytes = 0;

  constructor(private readonly maxBytes = MAX_BYTES) {}

  get(key: string): ListingPage | undefined {
    const page = this.pages.get(key);
    if (page) {
      this.pages.delete(key);
      this.pages.set(key, page);
    }
    return page;
  }

  set(key: string, page: ListingPage): void {
    this.delete(key);
    if (page.body.length > this.maxBytes) return;
    for (const list of page.deps.values()) if (list === LARGE) return;
    this.pages.set(key, page);
    this.bytes += page.body.length;
    while (this.bytes > this.maxBytes) this.delete(this.pages.keys().next().value as string);
  }

  delete(key: string): void {
    const old = this.pages.get(key);
    if (!old) return;
    this.pages.delete(key);
    this.bytes -= old.body.length;
  }

  get size(): number {
    return this.pages.size;
  }
}
