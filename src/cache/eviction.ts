/**
 * Eviction policies behind one interface. A policy orders page slots (small integers, see
 * tier-index.ts) it is told about; it holds only evictable ones (the tier removes pinned and
 * in-flight pages from it), so the first victim is always usable and every operation is O(1).
 * The order lives in typed arrays indexed by slot (links, not objects per page): a million pages
 * cost a few bytes each, and nothing for the garbage collector to walk.
 */
import type { EvictionPolicyName } from './page-store.js';

const NONE = -1;

export interface EvictionPolicy {
  readonly name: EvictionPolicyName;
  readonly size: number;
  has(slot: number): boolean;
  /** A slot became evictable (new page, or a page of an unpinned file). */
  onInsert(slot: number): void;
  /** The page was read or rewritten. */
  onAccess(slot: number): void;
  onRemove(slot: number): void;
  /** The next slot to evict, or -1. */
  victim(): number;
  /** Slots in eviction order; do not mutate the policy while iterating. */
  victims(): IterableIterator<number>;
  /** Makes room for slots below `capacity` (the tier grew). */
  grow(capacity: number): void;
}

function grown<T extends Int32Array | Uint8Array | Float64Array>(old: T, capacity: number, fill?: number): T {
  if (old.length >= capacity) return old;
  const next = new (old.constructor as new (n: number) => T)(capacity);
  next.set(old);
  if (fill !== undefined) next.fill(fill, old.length);
  return next;
}

/**
 * Doubly linked lists of slots through two Int32Arrays, several lists sharing them (a slot is on
 * at most one). A list is its head and tail, kept by the caller in `ends` at `list * 2`.
 */
class SlotLinks {
  prev = new Int32Array(0);
  next = new Int32Array(0);
  ends = new Int32Array(0);

  grow(capacity: number): void {
    this.prev = grown(this.prev, capacity);
    this.next = grown(this.next, capacity);
  }
  growLists(lists: number): void {
    this.ends = grown(this.ends, lists * 2, NONE);
  }
  head(list: number): number {
    return this.ends[list * 2]!;
  }
  append(list: number, slot: number): void {
    const tail = this.ends[list * 2 + 1]!;
    this.prev[slot] = tail;
    this.next[slot] = NONE;
    if (tail === NONE) this.ends[list * 2] = slot;
    else this.next[tail] = slot;
    this.ends[list * 2 + 1] = slot;
  }
  unlink(list: number, slot: number): void {
    const p = this.prev[slot]!;
    const n = this.next[slot]!;
    if (p === NONE) this.ends[list * 2] = n;
    else this.next[p] = n;
    if (n === NONE) this.ends[list * 2 + 1] = p;
    else this.prev[n] = p;
  }
  isTail(list: number, slot: number): boolean {
    return this.ends[list * 2 + 1] === slot;
  }
  *walk(list: number): IterableIterator<number> {
    for (let s = this.ends[list * 2]!; s !== NONE; s = this.next[s]!) yield s;
  }
}

/** One list, oldest first: LRU moves an accessed slot to the end, FIFO does not. */
class ListPolicy implements EvictionPolicy {
  private readonly links = new SlotLinks();
  private member = new Uint8Array(0);
  private count = 0;

  constructor(
    readonly name: 'LRU' | 'FIFO',
    capacity: number,
  ) {
    this.links.growLists(1);
    this.grow(capacity);
  }
  get size(): number {
    return this.count;
  }
  grow(capacity: number): void {
    this.links.grow(capacity);
    this.member = grown(this.member, capacity);
  }
  has(slot: number): boolean {
    return this.member[slot] === 1;
  }
  onInsert(slot: number): void {
    if (this.member[slot] === 1) {
      this.onAccess(slot);
      return;
    }
    this.member[slot] = 1;
    this.count++;
    this.links.append(0, slot);
  }
  onAccess(slot: number): void {
    if (this.name === 'FIFO' || this.member[slot] !== 1 || this.links.isTail(0, slot)) return;
    this.links.unlink(0, slot);
    this.links.append(0, slot);
  }
  onRemove(slot: number): void {
    if (this.member[slot] !== 1) return;
    this.member[slot] = 0;
    this.count--;
    this.links.unlink(0, slot);
  }
  victim(): number {
    return this.links.head(0);
  }
  victims(): IterableIterator<number> {
    return this.links.walk(0);
  }
}

/**
 * Least frequently used, O(1): buckets of equal frequency in a doubly linked list in ascending
 * order, each a list of its slots least recently touched first (the tie-break); an access moves a
 * slot to the bucket freq+1, made next to its own when missing. Buckets are numbers too: their
 * frequency, neighbours and list ends live in typed arrays, freed buckets are reused.
 */
class LfuPolicy implements EvictionPolicy {
  readonly name = 'LFU';
  private readonly links = new SlotLinks();
  /** The bucket of each slot; NONE when the slot is not in the policy. */
  private bucketOf = new Int32Array(0);
  private freq = new Float64Array(0);
  private bPrev = new Int32Array(0);
  private bNext = new Int32Array(0);
  private bSize = new Int32Array(0);
  private freeBuckets: number[] = [];
  private buckets = 0;
  private head = NONE;
  private count = 0;

  constructor(capacity: number) {
    this.grow(capacity);
  }
  get size(): number {
    return this.count;
  }
  grow(capacity: number): void {
    this.links.grow(capacity);
    this.bucketOf = grown(this.bucketOf, capacity, NONE);
  }
  has(slot: number): boolean {
    return (this.bucketOf[slot] ?? NONE) !== NONE;
  }
  onInsert(slot: number): void {
    if (this.has(slot)) {
      this.onAccess(slot);
      return;
    }
    let first = this.head;
    if (first === NONE || this.freq[first] !== 1) first = this.newBucket(1, NONE, this.head);
    this.enter(first, slot);
    this.count++;
  }
  onAccess(slot: number): void {
    const bucket = this.bucketOf[slot]!;
    if (bucket === NONE) return;
    let next = this.bNext[bucket]!;
    if (next === NONE || this.freq[next] !== this.freq[bucket]! + 1)
      next = this.newBucket(this.freq[bucket]! + 1, bucket, next);
    this.leave(bucket, slot);
    this.enter(next, slot);
  }
  onRemove(slot: number): void {
    const bucket = this.bucketOf[slot]!;
    if (bucket === NONE) return;
    this.leave(bucket, slot);
    this.bucketOf[slot] = NONE;
    this.count--;
  }
  victim(): number {
    return this.head === NONE ? NONE : this.links.head(this.head);
  }
  *victims(): IterableIterator<number> {
    for (let b = this.head; b !== NONE; b = this.bNext[b]!) yield* this.links.walk(b);
  }

  private enter(bucket: number, slot: number): void {
    this.links.append(bucket, slot);
    this.bucketOf[slot] = bucket;
    this.bSize[bucket]!++;
  }

  /** Takes the slot out of its bucket, and the bucket out of the list when it empties. */
  private leave(bucket: number, slot: number): void {
    this.links.unlink(bucket, slot);
    if (--this.bSize[bucket]! > 0) return;
    const p = this.bPrev[bucket]!;
    const n = this.bNext[bucket]!;
    if (p === NONE) this.head = n;
    else this.bNext[p] = n;
    if (n !== NONE) this.bPrev[n] = p;
    this.freeBuckets.push(bucket);
  }

  private newBucket(freq: number, prev: number, next: number): number {
    let b = this.freeBuckets.pop();
    if (b === undefined) {
      b = this.buckets++;
      if (b >= this.bSize.length) {
        const n = Math.max(16, this.bSize.length * 2);
        this.freq = grown(this.freq, n);
        this.bPrev = grown(this.bPrev, n);
        this.bNext = grown(this.bNext, n);
        this.bSize = grown(this.bSize, n);
        this.links.growLists(n);
      }
    }
    this.freq[b] = freq;
    this.bSize[b] = 0;
    this.links.ends[b * 2] = NONE;
    this.links.ends[b * 2 + 1] = NONE;
    this.bPrev[b] = prev;
    this.bNext[b] = next;
    if (prev === NONE) this.head = b;
    else this.bNext[prev] = b;
    if (next !== NONE) this.bPrev[next] = b;
    return b;
  }
}

/** `capacity`: the slots to make room for now (grow() adds more). */
export function createEvictionPolicy(name: EvictionPolicyName, capacity = 16): EvictionPolicy {
  switch (name) {
    case 'LRU':
    case 'FIFO':
      return new ListPolicy(name, capacity);
    case 'LFU':
      return new LfuPolicy(capacity);
  }
}
