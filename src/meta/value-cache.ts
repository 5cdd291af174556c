/**
 * A bounded LRU of decoded LevelDB values (and known absences), in front of the store's point reads:
 * a cached stat then costs a Map lookup instead of a native call on the thread pool.
 *
 * Consistency: every write updates the cache in the same step as it is issued, and bumps a
 * write counter; a read that missed caches its result only if no write happened while it was
 * in flight, so a slow read can never put back a value a newer write replaced.
 */
interface Slot<V> {
  value: V | null;
  used: boolean;
}

export class ValueCache<V = string> {
  /**
   * Insertion order is the eviction order; a hit only sets `used` (second chance, as a CLOCK
   * does) instead of moving the entry, so a hit costs one Map lookup. Eviction re-queues used
   * entries once before it drops the first unused one.
   */
  readonly #entries = new Map<string, Slot<V>>();
  #writes = 0;

  constructor(private readonly capacity = 100_000) {}

  /** The cached value, null for a known absence, undefined when not cached. */
  get(key: string): V | null | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    e.used = true;
    return e.value;
  }

  /** Token to pass to fill() after a read of the store. */
  begin(): number {
    return this.#writes;
  }

  /** Caches what a read returned, unless a write happened since begin(). */
  fill(key: string, value: V | undefined, token: number): void {
    if (token === this.#writes) this.#set(key, value ?? null);
  }

  /** Records a write (value undefined = deleted). */
  write(key: string, value: V | undefined): void {
    this.#writes++;
    this.#set(key, value ?? null);
  }

  /** Forgets everything (range deletes). */
  clear(): void {
    this.#writes++;
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }

  #set(key: string, value: V | null): void {
    this.#entries.delete(key);
    while (this.#entries.size >= this.capacity && this.#entries.size > 0) {
      const [oldest, e] = this.#entries.entries().next().value as [string, Slot<V>];
      this.#entries.delete(oldest);
      if (e.used) {
        e.used = false;
        this.#entries.set(oldest, e);
      }
    }
    this.#entries.set(key, { value, used: false });
  }
}
