const WATCH_TIMEOUT_MS = 5000;

/** Collects watch snapshots and waits for one that matches. */
export class Snapshots<T> {
  readonly seen: { at: number; items: T[] }[] = [];
  private waiters: { pred: (items: T[]) => boolean; ok: (items: T[]) => void }[] = [];
  readonly push = (items: T[]): void => {
    this.seen.push({ at: performance.now(), items });
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(items)) return true;
      w.ok(items);
      return false;
    });
  };

  get last(): T[] | undefined {
    return this.seen.at(-1)?.items;
  }

  /** Resolves with the first snapshot (latest included) that matches, at the time it arrived. */
  async next(what: string, pred: (items: T[]) => boolean, timeoutMs = WATCH_TIMEOUT_MS): Promise<number> {
    const last = this.seen.at(-1);
    if (last !== undefined && pred(last.items)) return last.at;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((ok, fail) => {
        this.waiters.push({ pred, ok: () => ok() });
        timer = setTimeout(
          () => fail(new Error(`watch: no snapshot where ${what} within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
    } finally {
      clearTimeout(timer);
    }
    return performance.now();
  }
}
