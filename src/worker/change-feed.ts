import type { MetaStore } from '../meta/meta-store.js';

/** One change the feed reports: a path whose status changed, or (`tree`) everything below it. */
export interface Change {
  readonly path: string;
  readonly tree: boolean;
}

export type ChangeListener = (seq: number, changes: readonly Change[]) => void;

/**
 * The paths whose metadata changed on this worker, in order, numbered: what clients caching
 * statuses subscribe to (GET /rpc/v1/watch, src/server/rpc-short-circuit.ts). `seq` counts
 * changes; an answer stamped with the seq taken before it was computed is stale exactly when a
 * change with a higher seq concerns its path. Changes of one event-loop turn go out as one batch.
 */
export class ChangeFeed {
  private counter = 0;
  private readonly listeners = new Set<ChangeListener>();
  private pending: Change[] = [];
  private scheduled = false;

  /** The number of the last change recorded (sent or about to be). */
  get seq(): number {
    return this.counter;
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Records a change. Nobody listening: only the counter moves (answers stay comparable). */
  changed(path: string, tree = false): void {
    this.counter++;
    if (this.listeners.size === 0) return;
    this.pending.push({ path, tree });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    for (const l of this.listeners) l(this.counter, batch);
  }
}

/** Methods of a MetaStore that change statuses or attributes, and the paths they change. */
const WATCHED: Record<string, (feed: ChangeFeed, args: unknown[], result: unknown) => void> = {
  putStatus: (feed, [record]) => feed.changed((record as { path: string }).path),
  invalidate: (feed, [path]) => feed.changed(path as string),
  deleteTree: (feed, [path]) => feed.changed(path as string, true),
  setAttrs: (feed, [path]) => feed.changed(path as string),
  deleteAttrs: (feed, [path]) => feed.changed(path as string),
  putListing: (feed, [, entries]) => {
    for (const e of entries as readonly { path: string }[]) feed.changed(e.path);
  },
  putListingChunk: (feed, [, entries], result) => changedEntries(feed, entries, result),
  mergeListingEntries: (feed, [, entries], result) => changedEntries(feed, entries, result),
  sweepListing: (feed, _args, result) => changedEntries(feed, [], result),
};

function changedEntries(feed: ChangeFeed, entries: unknown, result: unknown): void {
  for (const e of entries as readonly { path: string }[]) feed.changed(e.path);
  if (Array.isArray(result)) for (const r of result as { path: string }[]) feed.changed(r.path);
}

/**
 * The metadata store with every status or attribute change reported to `feed` once the store
 * has applied it (so a client that hears of a change and asks again sees the new state). Every
 * other method, optional ones included, is the store's own: callers that test for an optional
 * method (`meta.peekStatus === undefined`) see what the store offers.
 */
export function observedMetaStore<M extends MetaStore>(meta: M, feed: ChangeFeed): M {
  // One wrapper per method, made on first use: the hot paths (peekStatus) allocate nothing.
  const wrappers = new Map<string | symbol, unknown>();
  return new Proxy(meta, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      const known = wrappers.get(prop);
      if (known !== undefined) return known;
      const watch = typeof prop === 'string' ? WATCHED[prop] : undefined;
      const fn = value as (...a: unknown[]) => unknown;
      const wrapper =
        watch === undefined
          ? fn.bind(target)
          : async (...args: unknown[]) => {
              const result = await fn.apply(target, args);
              watch(feed, args, result);
              return result;
            };
      wrappers.set(prop, wrapper);
      return wrapper;
    },
  });
}
