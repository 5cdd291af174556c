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

interface Link {
  readonly key: string;
  prev: Link | undefined;
  next: Link | undefined;
}

/**
 * Keys in an order, oldest first, with O(1) append, move-to-end, remove and first. A Map alone
 * keeps insertion order too, but V8 leaves deleted entries in place until it rehashes, so taking
 * the first key after many deletions from the front walks all of them (~10 µs per eviction at
 * 100,000 pages): a linked list through a Map of links does not.
 */
class LinkedOrder {
  private readonly links = new Map<string, Link>();
  private head: Link | undefined;
  private tail: Link | undefined;

  get size(): number {
    return this.links.size;
  }
  has(key: string): boolean {
    return this.links.has(key);
  }
  /** Appends `key`, or moves it to the end when `move` and it is present. */
  append(key: string, move: boolean): void {
    const existing = this.links.get(key);
    if (existing !== undefined) {
      if (!move || existing === this.tail) return;
      this.unlink(existing);
      this.linkAtEnd(existing);
      return;
    }
    const link: Link = { key, prev: undefined, next: undefined };
    this.links.set(key, link);
    this.linkAtEnd(link);
  }
  /** Moves a present key to the end; false when absent. */
  touch(key: string): boolean {
    const link = this.links.get(key);
    if (link === undefined) return false;
    if (link !== this.tail) {
      this.unlink(link);
      this.linkAtEnd(link);
    }
    return true;
  }
  remove(key: string): void {
    const link = this.links.get(key);
    if (link === undefined) return;
    this.links.delete(key);
    this.unlink(link);
  }
  first(): string | undefined {
    return this.head?.key;
  }
  *keys(): IterableIterator<string> {
    for (let l = this.head; l !== undefined; l = l.next) yield l.key;
  }
  private linkAtEnd(link: Link): void {
    link.prev = this.tail;
    link.next = undefined;
    if (this.tail) this.tail.next = link;
    else this.head = link;
    this.tail = link;
  }
  private unlink(link: Link): void {
    if (link.prev) link.prev.next = link.next;
    else this.head = link.next;
    if (link.next) link.next.prev = link.prev;
    else this.tail = link.prev;
    link.prev = undefined;
    link.next = undefined;
  }
}

/** Least recently used: an access moves the key to the end; the first key goes first. */
export class LruPolicy implements EvictionPolicy {
  readonly name = 'LRU';
  private readonly order = new LinkedOrder();
  get size(): number {
    return this.order.size;
  }
  has(key: string): boolean {
    return this.order.has(key);
  }
  onInsert(key: string): void {
    this.order.append(key, true);
  }
  onAccess(key: string): void {
    this.order.touch(key);
  }
  onRemove(key: string): void {
    this.order.remove(key);
  }
  victim(): string | undefined {
    return this.order.first();
  }
  victims(): IterableIterator<string> {
    return this.order.keys();
  }
}

/** First in, first out: insertion order only; reads do not matter. */
export class FifoPolicy implements EvictionPolicy {
  readonly name = 'FIFO';
  private readonly order = new LinkedOrder();
  get size(): number {
    return this.order.size;
  }
  has(key: string): boolean {
    return this.order.has(key);
  }
  onInsert(key: string): void {
    this.order.append(key, false);
  }
  onAccess(_key: string): void {}
  onRemove(key: string): void {
    this.order.remove(key);
  }
  victim(): string | undefined {
    return this.order.first();
  }
  victims(): IterableIterator<string> {
    return this.order.keys();
  }
}

interface Bucket {
  readonly freq: number;
  /** Keys with this frequency, least recently touched first (the LFU tie-break). */
  readonly keys: LinkedOrder;
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
      first = { freq: 1, keys: new LinkedOrder(), prev: undefined, next: this.head };
      if (this.head) this.head.prev = first;
      this.head = first;
    }
    first.keys.append(key, false);
    this.bucketOf.set(key, first);
  }
  onAccess(key: string): void {
    const bucket = this.bucketOf.get(key);
    if (bucket === undefined) return;
    let next = bucket.next;
    if (next === undefined || next.freq !== bucket.freq + 1) {
      next = { freq: bucket.freq + 1, keys: new LinkedOrder(), prev: bucket, next: bucket.next };
      if (bucket.next) bucket.next.prev = next;
      bucket.next = next;
    }
    next.keys.append(key, false);
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
    return this.head?.keys.first();
  }
  *victims(): IterableIterator<string> {
    for (let b = this.head; b !== undefined; b = b.next) yield* b.keys.keys();
  }
  private detach(bucket: Bucket, key: string): void {
    bucket.keys.remove(key);
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
