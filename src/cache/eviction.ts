/**
 * Eviction policies behind one interface. A policy orders the keys it is told about; it holds only
 * evictable keys (the tier removes pinned and in-flight pages from it), so the first victim is
 * always usable and every operation is O(1).
 */
import type { EvictionPolicyName } from './page-store.js';

export interface EvictionPolicy {
  readonly name: EvictionPolicyName;
  readonly size: number;
  has(key: string): boolean;
  /** A key became evictable (new page, or a page of an unpinned file). */
  onInsert(key: string): void;
  /** The page was read or rewritten. */
  onAccess(key: string): void;
  onRemove(key: string): void;
  /** The next key to evict, if any. */
  victim(): string | undefined;
  /** Keys in eviction order; do not mutate the policy while iterating. */
  victims(): IterableIterator<string>;
}

/** Least recently used: a Map keeps insertion order; an access re-inserts at the end. */
export class LruPolicy implements EvictionPolicy {
  readonly name = 'LRU';
  private readonly order = new Map<string, true>();
  get size(): number {
    return this.order.size;
  }
  has(key: string): boolean {
    return this.order.has(key);
  }
  onInsert(key: string): void {
    this.order.delete(key);
    this.order.set(key, true);
  }
  onAccess(key: string): void {
    if (this.order.delete(key)) this.order.set(key, true);
  }
  onRemove(key: string): void {
    this.order.delete(key);
  }
  victim(): string | undefined {
    return this.order.keys().next().value;
  }
  victims(): IterableIterator<string> {
    return this.order.keys();
  }
}

/** First in, first out: insertion order only; reads do not matter. */
export class FifoPolicy implements EvictionPolicy {
  readonly name = 'FIFO';
  private readonly order = new Map<string, true>();
  get size(): number {
    return this.order.size;
  }
  has(key: string): boolean {
    return this.order.has(key);
  }
  onInsert(key: string): void {
    if (!this.order.has(key)) this.order.set(key, true);
  }
  onAccess(_key: string): void {}
  onRemove(key: string): void {
    this.order.delete(key);
  }
  victim(): string | undefined {
    return this.order.keys().next().value;
  }
  victims(): IterableIterator<string> {
    return this.order.keys();
  }
}

interface Bucket {
  readonly freq: number;
  /** Keys with this frequency, least recently touched first (the LFU tie-break). */
  readonly keys: Set<string>;
  prev: Bucket | undefined;
  next: Bucket | undefined;
}

/**
 * Least frequently used, O(1): a doubly linked list of frequency buckets in ascending order; a key
 * moves to the bucket freq+1 (created next to its own) on access. Ties go to the older key.
 */
export class LfuPolicy implements EvictionPolicy {
  readonly name = 'LFU';
  private readonly bucketOf = new Map<string, Bucket>();
  private head: Bucket | undefined;

  get size(): number {
    return this.bucketOf.size;
  }
  has(key: string): boolean {
    return this.bucketOf.has(key);
  }
  onInsert(key: string): void {
    if (this.bucketOf.has(key)) {
      this.onAccess(key);
      return;
    }
    let first = this.head;
    if (first === undefined || first.freq !== 1) {
      first = { freq: 1, keys: new Set(), prev: undefined, next: this.head };
      if (this.head) this.head.prev = first;
      this.head = first;
    }
    first.keys.add(key);
    this.bucketOf.set(key, first);
  }
  onAccess(key: string): void {
    const bucket = this.bucketOf.get(key);
    if (bucket === undefined) return;
    let next = bucket.next;
    if (next === undefined || next.freq !== bucket.freq + 1) {
      next = { freq: bucket.freq + 1, keys: new Set(), prev: bucket, next: bucket.next };
      if (bucket.next) bucket.next.prev = next;
      bucket.next = next;
    }
    next.keys.add(key);
    this.bucketOf.set(key, next);
    this.detach(bucket, key);
  }
  onRemove(key: string): void {
    const bucket = this.bucketOf.get(key);
    if (bucket === undefined) return;
    this.bucketOf.delete(key);
    this.detach(bucket, key);
  }
  victim(): string | undefined {
    return this.head?.keys.values().next().value;
  }
  *victims(): IterableIterator<string> {
    for (let b = this.head; b !== undefined; b = b.next) yield* b.keys;
  }
  private detach(bucket: Bucket, key: string): void {
    bucket.keys.delete(key);
    if (bucket.keys.size > 0) return;
    if (bucket.prev) bucket.prev.next = bucket.next;
    else this.head = bucket.next;
    if (bucket.next) bucket.next.prev = bucket.prev;
  }
}

export function createEvictionPolicy(name: EvictionPolicyName): EvictionPolicy {
  switch (name) {
    case 'LRU':
      return new LruPolicy();
    case 'LFU':
      return new LfuPolicy();
    case 'FIFO':
      return new FifoPolicy();
  }
}
