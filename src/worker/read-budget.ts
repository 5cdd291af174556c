import type { PageStore } from '../cache/page-store.js';

/**
 * The bytes of pages fetched ahead of their readers, shared by every reader of a worker: the
 * pages in readers' readahead windows, the pages of store runs beyond the one a reader is
 * waiting for (until they are stored in the page store), and background prefetches. A page is
 * fetched ahead only when its bytes can be reserved here; the page a reader is reading is always
 * fetched (no reader waits on another), so when the budget is spent readahead shrinks to that
 * page and backpressure stays per reader: a paused reader holds its window, and the page it is
 * reading, and nothing more.
 */
export class ReadBudget {
  private used = 0;
  private peak = 0;

  constructor(
    readonly capacityBytes: number,
    private readonly onChange: (usedBytes: number) => void = () => undefined,
  ) {}

  get usedBytes(): number {
    return this.used;
  }

  /** The most ever reserved at once (tests; never above capacityBytes). */
  get peakBytes(): number {
    return this.peak;
  }

  /** Reserves `bytes` if they fit; false when the budget is spent. */
  tryReserve(bytes: number): boolean {
    if (this.used + bytes > this.capacityBytes) return false;
    this.used += bytes;
    if (this.used > this.peak) this.peak = this.used;
    this.onChange(this.used);
    return true;
  }

  release(bytes: number): void {
    if (bytes <= 0) return;
    this.used -= bytes;
    this.onChange(this.used);
  }
}

/**
 * The default read budget of a worker: a quarter of its memory tier's capacity, and at least one
 * reader's readahead (`readahead` pages), so a worker without a memory tier still reads ahead.
 */
export function defaultReadBudgetBytes(pages: PageStore, readahead: number): number {
  const memory = pages.stats().tiers.find((t) => t.kind === 'memory')?.capacityBytes ?? 0;
  return Math.max(Math.floor(memory / 4), readahead * pages.pageSize);
}
