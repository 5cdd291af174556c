import { Readable } from 'node:stream';
import type { PageStore } from '../cache/page-store.js';
import { abortError, throwIfAborted } from '../core/abort.js';
import { BufferPool, RELEASE_CHUNK, type ReleasingReadable } from '../core/buffer-pool.js';
import { isStrataError, StrataError } from '../core/errors.js';
import type { ReadType } from '../core/file-system.js';
import type { WorkerMetrics } from './metrics.js';
import { cutIntoPages } from './page-cutter.js';
import { defaultReadBudgetBytes, ReadBudget } from './read-budget.js';

/**
 * A stream of `length` bytes at `offset` from wherever the file's content lives (store or
 * staging); `signal` (the reader's that started this store read) aborts it.
 */
export type RangeSource = (
  offset: number,
  length: number,
  signal: AbortSignal | undefined,
) => Promise<AsyncIterable<Buffer> | Iterable<Buffer>>;

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
  /**
   * The reader's signal: it ends the stream and aborts the store reads this request started. A
   * store read shared with another reader that is still waiting is started again for that reader.
   */
  readonly signal?: AbortSignal;
  /**
   * The page store's deletionMark() from before the file was looked up: a page fetched is not
   * stored when the file's pages were deleted since (the file was replaced, so the store's bytes
   * may be the next version's). Default: the mark when the reader takes the request.
   */
  readonly deletionMark?: number;
}

/** Longest run of missing pages fetched with one store read (bounds memory per run). */
export const MAX_RUN_PAGES = 32;

/**
 * A page of a store run in progress; `held`: bytes of it reserved in the read budget; `stored`:
 * settles once its put into the page store has (set when its bytes arrived).
 */
interface InflightPage {
  readonly promise: Promise<Buffer>;
  held: number;
  stored?: Promise<void>;
}

/** A page a stream has asked for; `held`: its reservation while it waits to be read. */
interface WindowPage {
  readonly page: Promise<Buffer>;
  readonly held: number;
}

interface Deferred {
  readonly promise: Promise<Buffer>;
  resolve(buf: Buffer): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: (b: Buffer) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<Buffer>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  promise.catch(() => undefined); // a page nobody waits for must not become an unhandled rejection
  return { promise, resolve, reject };
}

/** The part of a page (starting at file offset `pageStart`) inside [offset, end): a view, no copy. */
function rangeOf(page: Buffer, pageStart: number, offset: number, end: number): Buffer {
  const from = Math.max(offset, pageStart) - pageStart;
  const to = Math.min(end, pageStart + page.length) - pageStart;
  return from === 0 && to === page.length ? page : page.subarray(from, to);
}

/**
 * Serves byte ranges of a file page by page: cached pages from the page store, missing ones from
 * the source, stored for next time.
 *
 * - Consecutive missing pages are fetched with ONE ranged store read (up to MAX_RUN_PAGES), cut
 *   into pages as the bytes arrive: a cold sequential read costs about what one direct GET does,
 *   not one request per page.
 * - Concurrent misses on a page share one store read: every page of a run in progress is
 *   registered in `inflight` before the read starts.
 * - Pages ahead of the reader (a window of `readahead`) are requested concurrently, so the next
 *   run starts before the current one is consumed; and a read that continues where the last read
 *   of the same file ended prefetches the pages after it (small sequential reads, e.g. FUSE).
 * - Everything fetched ahead of a reader — window, the rest of a run, prefetches — is bounded by
 *   one ReadBudget shared by all readers (strata_read_buffered_bytes); past it a reader gets the
 *   page it is reading and no readahead, and a run is no longer than the pages reserved.
 */
export class PageReader {
  private readonly inflight = new Map<string, InflightPage>();
  /** cacheId → end offset of the last read, to detect sequential access. */
  private readonly lastEnd = new Map<string, number>();
  readonly budget: ReadBudget;
  /**
   * Buffers that streamed reads of disk pages read into and get back from their consumer once
   * the socket took the bytes (core/buffer-pool.ts says why that is safe). Page size plus room
   * for a page file's header and seal.
   */
  readonly pool: BufferPool;

  constructor(
    private readonly pages: PageStore,
    private readonly metrics: WorkerMetrics,
    private readonly readahead = 4,
    private readonly onError: (err: unknown) => void = () => undefined,
    budgetBytes = defaultReadBudgetBytes(pages, readahead),
  ) {
    this.budget = new ReadBudget(budgetBytes, (used) => metrics.readBufferedBytes.set(used));
    metrics.readBufferCapacity.set(budgetBytes);
    this.pool = new BufferPool(pages.pageSize + 64);
  }

  /** Pages of store runs in progress (tests wait for none). */
  get inflightPages(): number {
    return this.inflight.size;
  }

  get pageSize(): number {
    return this.pages.pageSize;
  }

  /**
   * Settles once every page of the range that a store run fetched is stored (or failed to be,
   * reported to onError): a reader gets a page before its put finishes, so a loop of loads that
   * does not wait here piles up puts queued behind the disk writes, each holding its page, its
   * run and its request, without bound. Pages not fetched yet are not waited for.
   */
  async whenStored(cacheId: string, offset: number, length: number): Promise<void> {
    if (length <= 0) return;
    const ps = this.pages.pageSize;
    const waits: Promise<void>[] = [];
    for (let i = Math.floor(offset / ps); i <= Math.floor((offset + length - 1) / ps); i++) {
      const stored = this.inflight.get(`${cacheId}:${i}`)?.stored;
      if (stored !== undefined) waits.push(stored);
    }
    if (waits.length > 0) await Promise.all(waits);
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

  /**
   * The range as a stream, resolved once its first page is in hand: a failure before the first
   * byte (a store that does not answer, a missing file) rejects here, while a front end can
   * still answer with the error's status instead of cutting a response it has begun.
   */
  async open(req: RangeRequest): Promise<Readable> {
    throwIfAborted(req.signal);
    const { stream, first } = this.start(req);
    // An abort while the first page is awaited destroys the stream before anyone listens to it;
    // its 'error' (emitted on a later tick) is held by this listener, which stays on a destroyed
    // stream (an 'error' with no listener would be an uncaught exception), and thrown instead.
    const hold = () => undefined;
    stream.on('error', hold);
    try {
      await first;
    } catch (err) {
      stream.destroy();
      throw err;
    }
    if (stream.destroyed) {
      throw (
        stream.errored ??
        (req.signal ? abortError(req.signal) : new StrataError('INTERNAL', 'read closed early'))
      );
    }
    stream.off('error', hold);
    return stream;
  }

  stream(req: RangeRequest): Readable {
    return this.start(req).stream;
  }

  private start(req: RangeRequest): { stream: Readable; first: Promise<unknown> } {
    const ps = this.pages.pageSize;
    const end = Math.min(req.size, req.offset + req.length);
    const first = Math.floor(req.offset / ps);
    const last = end > req.offset ? Math.floor((end - 1) / ps) : first - 1;
    const sequential = this.lastEnd.get(req.cacheId) === req.offset;
    this.rememberEnd(req.cacheId, end);
    const window = new Map<number, WindowPage>();
    const mark = this.markOf(req);
    const readahead = this.readahead;
    const budget = this.budget;
    /**
     * Asks for page i: the page being read (`ahead` false) always; a page ahead only with its
     * bytes reserved — taken over from the run fetching it, or from the budget — else false.
     */
    const ensure = (i: number, ahead: boolean): boolean => {
      if (i > last || window.has(i)) return true;
      let held = 0;
      if (ahead) {
        const bytes = Math.min(ps, req.size - i * ps);
        held = this.takeHold(req.cacheId, i) || (budget.tryReserve(bytes) ? bytes : 0);
        if (held === 0) return false;
      }
      const page = this.page(req, i, last, mark, true);
      page.catch(() => undefined); // observed when awaited
      window.set(i, { page, held });
      return true;
    };
    // A plain Readable rather than Readable.from(async generator): one promise per page instead
    // of a generator step plus a microtask chain (measurable on 4 KiB reads).
    let next = first;
    const done = () => {
      if (sequential || req.offset === 0) this.prefetch(req, last + 1, last + this.readahead);
    };
    const stream = new Readable({
      // Nothing read into the stream's own buffer ahead of its consumer: the window is the
      // readahead, and it is budgeted.
      highWaterMark: 0,
      read() {
        if (next > last) {
          done();
          this.push(null);
          return;
        }
        const i = next++;
        ensure(i, false);
        for (let j = i + 1; j <= Math.min(last, i + readahead); j++) if (!ensure(j, true)) break;
        const { page: pending, held } = window.get(i)!;
        window.delete(i);
        budget.release(held); // the page being read now
        pending.then(
          (page) => {
            this.push(rangeOf(page, i * ps, req.offset, end));
            if (next > last) {
              done();
              this.push(null);
            }
          },
          (err: unknown) => this.destroy(err as Error),
        );
      },
    });
    const pool = this.pool;
    (stream as ReleasingReadable)[RELEASE_CHUNK] = (chunk: Buffer) => pool.give(chunk);
    const signal = req.signal;
    if (signal) {
      const onAbort = () => stream.destroy(abortError(signal));
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        stream.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
    stream.once('close', () => {
      for (const w of window.values()) budget.release(w.held);
      window.clear();
    });
    // The first page is wanted at once: started now, so open() can wait for it.
    ensure(first, false);
    return { stream, first: window.get(first)?.page ?? Promise.resolve() };
  }

  /** The range as one Buffer (callers bound its length): pages concatenated, or a view of one. */
  async readBuffer(req: RangeRequest): Promise<Buffer> {
    const ps = this.pages.pageSize;
    const end = Math.min(req.size, req.offset + req.length);
    if (end <= req.offset) return Buffer.alloc(0);
    const first = Math.floor(req.offset / ps);
    const last = Math.floor((end - 1) / ps);
    this.rememberEnd(req.cacheId, end);
    const mark = this.markOf(req);
    if (first === last) return rangeOf(await this.page(req, first, last, mark), first * ps, req.offset, end);
    const pages = await Promise.all(
      Array.from({ length: last - first + 1 }, (_, k) => this.page(req, first + k, last, mark)),
    );
    return Buffer.concat(pages.map((page, k) => rangeOf(page, (first + k) * ps, req.offset, end)));
  }

  /**
   * The range as one Buffer when every page of it is in the memory tier (counted as hits), with
   * no promise or I/O; undefined otherwise (nothing counted: the caller takes readBuffer).
   */
  peekBuffer(
    cacheId: string,
    size: number,
    offset: number,
    length: number,
    mount: string,
  ): Buffer | undefined {
    const peek = this.pages.peekMemory;
    const ps = this.pages.pageSize;
    const end = Math.min(size, offset + length);
    if (peek === undefined || end <= offset) return undefined;
    const first = Math.floor(offset / ps);
    const last = Math.floor((end - 1) / ps);
    const parts: Buffer[] = [];
    for (let i = first; i <= last; i++) {
      const page = peek.call(this.pages, cacheId, i);
      if (page === undefined) return undefined;
      parts.push(rangeOf(page, i * ps, offset, end));
    }
    this.rememberEnd(cacheId, end);
    this.metrics.cacheHitBytes.inc({ mount }, end - offset);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /**
   * Starts filling pages [from, to] of a file in the background (sequential readahead), as far
   * as the read budget allows; each page's reservation is held until it is stored.
   */
  prefetch(request: RangeRequest, from: number, to: number): void {
    if (request.readType === 'NO_CACHE') return;
    // Beyond what the reader asked for: fills the cache for the next read, whoever makes it.
    const { signal: _readerSignal, ...req } = request;
    const ps = this.pages.pageSize;
    const lastPage = Math.min(to, Math.ceil(req.size / ps) - 1);
    const mark = this.markOf(req);
    for (let i = from; i <= lastPage; i++) {
      const key = `${req.cacheId}:${i}`;
      if (this.pages.has(req.cacheId, i) || this.inflight.has(key)) continue;
      const bytes = Math.min(ps, req.size - i * ps);
      if (!this.budget.tryReserve(bytes)) return;
      this.fetch(req, i, lastPage, mark).catch((err) => this.onError(err));
      const entry = this.inflight.get(key);
      if (entry) entry.held += bytes;
      else this.budget.release(bytes);
    }
  }

  /** Takes over the reservation of a page a run is fetching (a window now holds it); 0 if none. */
  private takeHold(cacheId: string, index: number): number {
    const entry = this.inflight.get(`${cacheId}:${index}`);
    if (entry === undefined || entry.held === 0) return 0;
    const held = entry.held;
    entry.held = 0;
    return held;
  }

  /**
   * One page, counted as a hit or a miss. `last` bounds a run started from here. `pooled`: for a
   * stream whose consumer gives its chunks back — a disk page is read into a pool buffer.
   */
  private async page(
    req: RangeRequest,
    index: number,
    last: number,
    mark: number | undefined,
    pooled = false,
  ): Promise<Buffer> {
    const ps = this.pages.pageSize;
    const served =
      Math.min(req.offset + req.length, req.size, (index + 1) * ps) - Math.max(req.offset, index * ps);
    if (req.readType !== 'NO_CACHE' && this.pages.has(req.cacheId, index)) {
      const promote = req.readType === 'CACHE_PROMOTE';
      // A memory-resident page is served as it is (the peek is the get's own memory hit); only a
      // page read from disk into a stream needs a pooled buffer.
      const resident = promote ? undefined : this.pages.peekMemory?.call(this.pages, req.cacheId, index);
      if (resident !== undefined) {
        this.metrics.cacheHitBytes.inc({ mount: req.mount }, served);
        return resident;
      }
      const into = pooled && !promote ? this.pool.take() : undefined;
      const cached = await this.pages.get(
        req.cacheId,
        index,
        into === undefined ? { promote } : { promote, into },
      );
      if (into !== undefined && cached?.buffer !== into.buffer) this.pool.give(into);
      if (cached) {
        this.metrics.cacheHitBytes.inc({ mount: req.mount }, served);
        return cached;
      }
    }
    this.metrics.cacheMissBytes.inc({ mount: req.mount }, served);
    try {
      return await this.fetch(req, index, last, mark);
    } catch (err) {
      // The store read was shared with a reader that went away: read the page for this one.
      if (isStrataError(err, 'CANCELLED') && req.signal?.aborted !== true)
        return this.fetch(req, index, last, mark);
      throw err;
    }
  }

  /**
   * The page from a store read in progress, or a new run of store reads starting at it. The run
   * extends over the following missing pages as far as their bytes can be reserved in the read
   * budget (the first page is its caller's: being read, or reserved by the caller).
   */
  private fetch(req: RangeRequest, index: number, last: number, mark: number | undefined): Promise<Buffer> {
    const existing = this.inflight.get(`${req.cacheId}:${index}`);
    if (existing) return existing.promise;
    const ps = this.pages.pageSize;
    let runEnd = index;
    while (
      runEnd < last &&
      runEnd - index + 1 < MAX_RUN_PAGES &&
      !this.pages.has(req.cacheId, runEnd + 1) &&
      !this.inflight.has(`${req.cacheId}:${runEnd + 1}`) &&
      this.budget.tryReserve(Math.min(ps, req.size - (runEnd + 1) * ps))
    ) {
      runEnd++;
    }
    return this.startRun(req, index, runEnd, mark);
  }

  /** Reads pages [first, lastPage] with one source read, resolving each page as its bytes arrive. */
  private startRun(
    req: RangeRequest,
    first: number,
    lastPage: number,
    mark: number | undefined,
  ): Promise<Buffer> {
    const ps = this.pages.pageSize;
    const waiting: Deferred[] = [];
    const entries: InflightPage[] = [];
    for (let i = first; i <= lastPage; i++) {
      const d = deferred();
      waiting.push(d);
      // Pages after the first were reserved by fetch().
      const entry: InflightPage = {
        promise: d.promise,
        held: i === first ? 0 : Math.min(ps, req.size - i * ps),
      };
      entries.push(entry);
      this.inflight.set(`${req.cacheId}:${i}`, entry);
    }
    const offset = first * ps;
    const length = Math.min(req.size, (lastPage + 1) * ps) - offset;
    let done = 0;
    /** The run is done with page i: no longer in flight; its reservation (if still its own) goes. */
    const forget = (i: number) => {
      const key = `${req.cacheId}:${i}`;
      const entry = entries[i - first]!;
      if (this.inflight.get(key) === entry) this.inflight.delete(key);
      this.budget.release(entry.held);
      entry.held = 0;
    };
    const settle = (i: number, buf: Buffer) => {
      this.metrics.ufsReadBytes.inc({ mount: req.mount }, buf.length);
      waiting[i - first]!.resolve(buf);
      const stored =
        req.readType === 'NO_CACHE'
          ? Promise.resolve()
          : mark === undefined
            ? this.pages.put(req.cacheId, i, buf)
            : this.pages.put(req.cacheId, i, buf, { unlessDeletedSince: mark });
      // Keep the in-flight entry until the page is stored, so a reader never misses it in between.
      entries[i - first]!.stored = stored.catch((err) => this.onError(err)).finally(() => forget(i));
    };
    (async () => {
      const source = await req.source(offset, length, req.signal);
      await cutIntoPages(source, first, lastPage, ps, req.size, (i, buf) => {
        settle(i, buf);
        done++;
      });
    })().catch((err: unknown) => {
      const e = req.signal?.aborted ? abortError(req.signal) : err;
      for (let i = first + done; i <= lastPage; i++) {
        forget(i);
        waiting[i - first]!.reject(e);
      }
    });
    return waiting[0]!.promise;
  }

  /** The page store's deletion mark this request's puts are checked against (see RangeRequest). */
  private markOf(req: RangeRequest): number | undefined {
    return req.deletionMark ?? this.pages.deletionMark?.();
  }

  /** The page store's deletionMark() now, for RangeRequest.deletionMark (undefined: none offered). */
  deletionMark(): number | undefined {
    return this.pages.deletionMark?.();
  }

  private rememberEnd(cacheId: string, end: number): void {
    if (this.lastEnd.size > 10_000) this.lastEnd.clear(); // bounded; losing it only costs readahead
    this.lastEnd.set(cacheId, end);
  }
}
