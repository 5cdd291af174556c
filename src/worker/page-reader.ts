import { Readable } from 'node:stream';
import type { PageStore } from '../cache/page-store.js';
import type { ReadType } from '../client/types.js';
import { StrataError } from '../core/errors.js';
import type { WorkerMetrics } from './metrics.js';

/** Fetches `length` bytes at `offset` from wherever the file's content lives (store or staging). */
export type RangeSource = (offset: number, length: number) => Promise<Buffer>;

export interface RangeRequest {
  readonly cacheId: string;
  /** File size; the last page may be short. */
  readonly size: number;
  readonly offset: number;
  readonly length: number;
  readonly readType: ReadType;
  /** Metric label. */
  readonly mount: string;
  readonly source: RangeSource;
}

/**
 * Serves byte ranges of a file page by page: cached pages from the page store, missing ones from
 * the source, stored for next time. Concurrent misses on one page share one source read
 * (single-flight). Pages ahead of the reader are fetched concurrently (a window of `readahead`
 * pages), and a read that continues where the last one of the same file ended also starts
 * fetching the pages after it, so small sequential reads (FUSE) find them cached.
 */
export class PageReader {
  private readonly inflight = new Map<string, Promise<Buffer>>();
  /** cacheId → end offset of the last read, to detect sequential access. */
  private readonly lastEnd = new Map<string, number>();

  constructor(
    private readonly pages: PageStore,
    private readonly metrics: WorkerMetrics,
    private readonly readahead = 4,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  get pageSize(): number {
    return this.pages.pageSize;
  }

  /** True when every page of the range is cached. */
  isCached(cacheId: string, offset: number, length: number): boolean {
    if (length === 0) return true;
    const ps = this.pages.pageSize;
    for (let i = Math.floor(offset / ps); i <= Math.floor((offset + length - 1) / ps); i++) {
      if (!this.pages.has(cacheId, i)) return false;
    }
    return true;
  }

  stream(req: RangeRequest): Readable {
    const ps = this.pages.pageSize;
    const end = Math.min(req.size, req.offset + req.length);
    const first = Math.floor(req.offset / ps);
    const last = end > req.offset ? Math.floor((end - 1) / ps) : first - 1;
    const sequential = this.lastEnd.get(req.cacheId) === req.offset;
    this.rememberEnd(req.cacheId, end);
    const window = new Map<number, Promise<Buffer>>();
    const ensure = (i: number) => {
      if (i > last || window.has(i)) return;
      const p = this.page(req, i);
      p.catch(() => undefined); // observed when awaited; avoid unhandled rejections for pages never reached
      window.set(i, p);
    };
    const self = this;
    async function* generate(): AsyncGenerator<Buffer> {
      for (let i = first; i <= last; i++) {
        for (let j = i; j <= Math.min(last, i + self.readahead); j++) ensure(j);
        const page = await window.get(i)!;
        window.delete(i);
        const pageStart = i * ps;
        const from = Math.max(req.offset, pageStart) - pageStart;
        const to = Math.min(end, pageStart + page.length) - pageStart;
        yield from === 0 && to === page.length ? page : page.subarray(from, to);
      }
      if (sequential || req.offset === 0) self.prefetch(req, last + 1, last + self.readahead);
    }
    return Readable.from(generate(), { objectMode: false, highWaterMark: ps });
  }

  /** Starts filling pages [from, to] of a file in the background (sequential readahead). */
  prefetch(req: RangeRequest, from: number, to: number): void {
    if (req.readType === 'NO_CACHE') return;
    const lastPage = Math.ceil(req.size / this.pages.pageSize) - 1;
    for (let i = from; i <= Math.min(to, lastPage); i++) {
      if (!this.pages.has(req.cacheId, i)) this.fetch(req, i).catch((err) => this.onError(err));
    }
  }

  /** One page, counted as a hit or a miss. */
  private async page(req: RangeRequest, index: number): Promise<Buffer> {
    const ps = this.pages.pageSize;
    const served = Math.min(req.offset + req.length, req.size, (index + 1) * ps) - Math.max(req.offset, index * ps);
    if (req.readType !== 'NO_CACHE') {
      const cached = await this.pages.get(req.cacheId, index, { promote: req.readType === 'CACHE_PROMOTE' });
      if (cached) {
        this.metrics.cacheHitBytes.inc({ mount: req.mount }, served);
        return cached;
      }
    }
    this.metrics.cacheMissBytes.inc({ mount: req.mount }, served);
    return this.fetch(req, index);
  }

  /** Reads one page from the source, once however many readers ask, and caches it. */
  private fetch(req: RangeRequest, index: number): Promise<Buffer> {
    const key = `${req.cacheId}:${index}`;
    const existing = this.inflight.get(key);
    if (existing) return existing;
    const ps = this.pages.pageSize;
    const offset = index * ps;
    const length = Math.min(ps, req.size - offset);
    const promise = req.source(offset, length).then((buf) => {
      if (buf.length !== length) {
        throw new StrataError('FINGERPRINT_CHANGED', `store returned ${buf.length} bytes for page ${index}, expected ${length}`);
      }
      this.metrics.ufsReadBytes.inc({ mount: req.mount }, length);
      return buf;
    });
    this.inflight.set(key, promise);
    promise.then(
      (buf) => {
        const stored = req.readType === 'NO_CACHE' ? Promise.resolve() : this.pages.put(req.cacheId, index, buf);
        stored.catch((err) => this.onError(err)).finally(() => this.inflight.delete(key));
      },
      () => this.inflight.delete(key),
    );
    return promise;
  }

  private rememberEnd(cacheId: string, end: number): void {
    if (this.lastEnd.size > 10_000) this.lastEnd.clear(); // bounded; losing it only costs readahead
    this.lastEnd.set(cacheId, end);
  }
}
