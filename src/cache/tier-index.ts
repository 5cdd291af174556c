/**
 * What one tier holds: its pages, the bytes they use, and the eviction order of the evictable
 * ones. Every change of `usedBytes` happens together with the change of the table, synchronously,
 * so usedBytes is always the sum of the pages' bytes.
 *
 * Compact, because a disk tier holds millions of pages (issue 17): a page is a slot number and
 * its fields are columns of typed arrays indexed by it — file (a FileTable slot shared by the
 * tiers), page number, bytes, a generation (bumped when the slot is freed, so a caller can tell
 * "still the page I read" from "a page put in its place since"), the ctime of its last verified
 * read. Pages are found through one open-addressing hash table keyed by (file, page number), and
 * a file's pages in this tier through a linked list of their slots (for free by file, pinning).
 * No object, string or Map per page: ~57 B a page in this tier, ~30 B per file in the FileTable.
 */
import { createEvictionPolicy, type EvictionPolicy } from './eviction.js';
import type { FileTable } from './file-table.js';
import type { EvictionPolicyName } from './page-store.js';

const NONE = -1;
const READY = 1;
const INITIAL = 64;

/** A page as a caller saw it: still the same page while `index.isCurrent(ref)`. */
export interface PageRef {
  readonly slot: number;
  readonly gen: number;
  readonly fileId: string;
  readonly index: number;
  readonly bytes: number;
}

function hashOf(file: number, page: number): number {
  let h = Math.imul(file, 0x9e3779b1) ^ Math.imul(page >>> 0, 0x85ebca77);
  if (page > 0xffffffff) h ^= Math.imul(Math.floor(page / 0x100000000), 0xc2b2ae3d);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  return (h ^ (h >>> 15)) >>> 0;
}

function grown<T extends Int32Array | Uint32Array | Uint8Array | Float64Array>(
  old: T,
  capacity: number,
  fill?: number,
): T {
  if (old.length >= capacity) return old;
  const next = new (old.constructor as new (n: number) => T)(capacity);
  next.set(old);
  if (fill !== undefined) next.fill(fill, old.length);
  return next;
}

export class TierIndex<V = never> {
  private readonly policy: EvictionPolicy;
  private used = 0;
  private evictable = 0;
  private capacity: number;
  private count = 0;
  evictions = 0;

  // Columns, indexed by slot.
  private file = new Int32Array(INITIAL).fill(NONE);
  private page = new Float64Array(INITIAL);
  private size = new Uint32Array(INITIAL);
  private gen = new Uint32Array(INITIAL);
  private flags = new Uint8Array(INITIAL);
  /** The page file's ctime when its payload last passed its checksum; NaN: not yet. */
  private stamp = new Float64Array(INITIAL).fill(Number.NaN);
  /** A file's pages in this tier: a list through these, free slots chained through `fileNext`. */
  private filePrev = new Int32Array(INITIAL);
  private fileNext = new Int32Array(INITIAL);
  /** By FileTable slot: the first of the file's pages here. */
  private fileHead = new Int32Array(INITIAL).fill(NONE);
  /** slot + 1, 0 empty; twice the slots, so never more than half full. */
  private buckets = new Int32Array(INITIAL * 2);
  private freeHead = NONE;
  private top = 0;
  /** The memory tier's buffers, by slot (absent for a disk tier). */
  private values: (V | undefined)[] = [];

  constructor(
    readonly name: string,
    capacityBytes: number,
    policy: EvictionPolicyName,
    private readonly files: FileTable,
  ) {
    this.policy = createEvictionPolicy(policy, INITIAL);
    this.capacity = capacityBytes;
  }

  /** The quota in bytes; a disk tier lowers it when its disk turns out to hold less (ENOSPC). */
  get capacityBytes(): number {
    return this.capacity;
  }

  /** Sets the quota; the caller evicts whatever no longer fits. */
  resize(capacityBytes: number): void {
    this.capacity = Math.max(0, Math.floor(capacityBytes));
  }

  get usedBytes(): number {
    return this.used;
  }
  get pages(): number {
    return this.count;
  }
  /** Bytes that eviction could free now. */
  get evictableBytes(): number {
    return this.evictable;
  }

  /** Makes room for `more` pages beyond those held (a tier about to load them): see FileTable.reserve. */
  reserve(more: number, idBytes = 0): void {
    const slots = this.count + more;
    if (slots > this.file.length) this.growSlots(slots);
    this.files.reserve(more, idBytes);
  }

  /** Gives back what a reserve() did not need. */
  trim(): void {
    this.files.trim();
  }

  /** The slot of a page, or -1. */
  find(fileId: string, index: number): number {
    const file = this.files.find(fileId);
    return file < 0 ? NONE : this.lookup(file, index);
  }
  has(fileId: string, index: number): boolean {
    return this.find(fileId, index) !== NONE;
  }
  /** The page as it is now, for a later isCurrent(); undefined when absent. */
  ref(fileId: string, index: number): PageRef | undefined {
    const slot = this.find(fileId, index);
    return slot === NONE ? undefined : this.refOf(slot);
  }
  refOf(slot: number): PageRef {
    return {
      slot,
      gen: this.gen[slot]!,
      fileId: this.fileIdOf(slot),
      index: this.page[slot]!,
      bytes: this.size[slot]!,
    };
  }
  /** Whether `ref`'s page is still indexed, and not replaced by another put since. */
  isCurrent(ref: PageRef): boolean {
    return this.gen[ref.slot] === ref.gen && this.file[ref.slot] !== NONE;
  }

  fileIdOf(slot: number): string {
    return this.files.name(this.file[slot]!);
  }
  indexOf(slot: number): number {
    return this.page[slot]!;
  }
  bytesOf(slot: number): number {
    return this.size[slot]!;
  }
  valueOf(slot: number): V | undefined {
    return this.values[slot];
  }
  isReady(slot: number): boolean {
    return (this.flags[slot]! & READY) !== 0;
  }
  setReady(slot: number): void {
    this.flags[slot]! |= READY;
  }
  verifiedCtimeOf(slot: number): number | undefined {
    const v = this.stamp[slot]!;
    return Number.isNaN(v) ? undefined : v;
  }
  setVerifiedCtime(slot: number, ctimeMs: number | undefined): void {
    this.stamp[slot] = ctimeMs ?? Number.NaN;
  }

  /**
   * Indexes a page (replacing one of the same file and index); its slot. `ready`: readable now
   * (false while a disk write is in flight).
   */
  add(
    fileId: string,
    index: number,
    bytes: number,
    options: { evictable: boolean; ready: boolean; value?: V },
  ): number {
    this.remove(fileId, index);
    const file = this.files.acquire(fileId);
    const slot = this.allocate();
    this.file[slot] = file;
    this.page[slot] = index;
    this.size[slot] = bytes;
    this.flags[slot] = options.ready ? READY : 0;
    this.stamp[slot] = Number.NaN;
    if (options.value !== undefined) this.values[slot] = options.value;
    this.linkToFile(file, slot);
    this.hash(slot);
    this.count++;
    this.used += bytes;
    if (options.evictable) this.setEvictable(slot, true);
    return slot;
  }

  /** Drops a page; whether it was indexed. */
  remove(fileId: string, index: number): boolean {
    const slot = this.find(fileId, index);
    if (slot === NONE) return false;
    this.removeSlot(slot);
    return true;
  }

  removeSlot(slot: number): void {
    const file = this.file[slot]!;
    if (file === NONE) return;
    this.setEvictable(slot, false);
    this.unhash(slot);
    this.unlinkFromFile(file, slot);
    this.used -= this.size[slot]!;
    this.count--;
    this.file[slot] = NONE;
    this.gen[slot] = (this.gen[slot]! + 1) >>> 0;
    if (this.values.length > slot) this.values[slot] = undefined;
    this.fileNext[slot] = this.freeHead;
    this.freeHead = slot;
    this.files.release(file);
  }

  /** Drops every page (an index file found bad half way through its reading). */
  clear(): void {
    for (let s = 0; s < this.top; s++) if (this.file[s] !== NONE) this.removeSlot(s);
  }

  /** Pinning, or an in-flight write finishing, moves a page in or out of the eviction order. */
  setEvictable(slot: number, evictable: boolean): void {
    if (this.file[slot] === NONE || this.policy.has(slot) === evictable) return;
    if (evictable) {
      this.policy.onInsert(slot);
      this.evictable += this.size[slot]!;
    } else {
      this.policy.onRemove(slot);
      this.evictable -= this.size[slot]!;
    }
  }

  isEvictable(slot: number): boolean {
    return this.policy.has(slot);
  }

  touch(slot: number): void {
    this.policy.onAccess(slot);
  }

  /** Every page's slot, the evictable ones coldest first, then the others (pinned, in flight). */
  *coldestFirst(): IterableIterator<number> {
    yield* this.policy.victims();
    for (let s = 0; s < this.top; s++) if (this.file[s] !== NONE && !this.policy.has(s)) yield s;
  }

  /** The slots of a file's pages here (`file`: its FileTable slot); do not remove while iterating. */
  /**
   * Bytes of the pages of file slot `file` that none of the first `before` tiers holds — the
   * cached-bytes probe, which runs for every entry of a listing and every stat: no generator, no
   * allocation, one FileTable lookup for all tiers.
   */
  bytesOfFile(
    file: number,
    tiers: readonly { readonly index: TierIndex<unknown> }[],
    before: number,
  ): number {
    if (file >= this.fileHead.length) return 0;
    let total = 0;
    for (let s = this.fileHead[file]!; s !== NONE; s = this.fileNext[s]!) {
      const index = this.page[s]!;
      let held = false;
      for (let e = 0; e < before && !held; e++) held = tiers[e]!.index.lookup(file, index) !== NONE;
      if (!held) total += this.bytesOf(s);
    }
    return total;
  }

  *slotsOfFile(file: number): IterableIterator<number> {
    if (file >= this.fileHead.length) return;
    for (let s = this.fileHead[file]!; s !== NONE; s = this.fileNext[s]!) yield s;
  }

  /** The next page to evict (never a pinned or in-flight one), without removing it; -1 if none. */
  victim(): number {
    return this.policy.victim();
  }

  /**
   * Whether `bytes` can fit after replacing the page at slot `replacing` (its entry goes away) and
   * evicting everything evictable (plus `alsoFreeable` bytes expected to become evictable).
   */
  canFit(bytes: number, replacing = NONE, alsoFreeable = 0): boolean {
    if (bytes > this.capacityBytes) return false;
    const oldBytes = replacing === NONE ? 0 : this.size[replacing]!;
    const freeable = this.evictable - (replacing !== NONE && this.policy.has(replacing) ? oldBytes : 0);
    return this.used - oldBytes - freeable - alsoFreeable + bytes <= this.capacityBytes;
  }

  /** Whether `bytes` fits now without evicting anything. */
  fits(bytes: number): boolean {
    return this.used + bytes <= this.capacityBytes;
  }

  // ---- internals ----

  private lookup(file: number, index: number): number {
    const buckets = this.buckets;
    const mask = buckets.length - 1;
    for (let b = hashOf(file, index) & mask; ; b = (b + 1) & mask) {
      const v = buckets[b]!;
      if (v === 0) return NONE;
      if (this.file[v - 1] === file && this.page[v - 1] === index) return v - 1;
    }
  }

  private allocate(): number {
    if (this.freeHead !== NONE) {
      const slot = this.freeHead;
      this.freeHead = this.fileNext[slot]!;
      return slot;
    }
    if (this.top === this.file.length) this.growSlots(this.file.length * 2);
    return this.top++;
  }

  private growSlots(n: number): void {
    this.file = grown(this.file, n, NONE);
    this.page = grown(this.page, n);
    this.size = grown(this.size, n);
    this.gen = grown(this.gen, n);
    this.flags = grown(this.flags, n);
    this.stamp = grown(this.stamp, n, Number.NaN);
    this.filePrev = grown(this.filePrev, n);
    this.fileNext = grown(this.fileNext, n);
    this.policy.grow(n);
    this.buckets = new Int32Array(2 ** Math.ceil(Math.log2(n * 2)));
    for (let s = 0; s < this.top; s++) if (this.file[s] !== NONE) this.hash(s);
  }

  private hash(slot: number): void {
    const mask = this.buckets.length - 1;
    let b = hashOf(this.file[slot]!, this.page[slot]!) & mask;
    while (this.buckets[b] !== 0) b = (b + 1) & mask;
    this.buckets[b] = slot + 1;
  }

  private unhash(slot: number): void {
    const buckets = this.buckets;
    const mask = buckets.length - 1;
    let b = hashOf(this.file[slot]!, this.page[slot]!) & mask;
    while (buckets[b] !== slot + 1) b = (b + 1) & mask;
    // Backward shift: later entries of the run move into the hole when their home allows it.
    for (let next = (b + 1) & mask; buckets[next] !== 0; next = (next + 1) & mask) {
      const s = buckets[next]! - 1;
      const home = hashOf(this.file[s]!, this.page[s]!) & mask;
      if (((next - home) & mask) >= ((next - b) & mask)) {
        buckets[b] = buckets[next]!;
        b = next;
      }
    }
    buckets[b] = 0;
  }

  private linkToFile(file: number, slot: number): void {
    if (file >= this.fileHead.length)
      this.fileHead = grown(this.fileHead, Math.max(file + 1, this.fileHead.length * 2), NONE);
    const head = this.fileHead[file]!;
    this.filePrev[slot] = NONE;
    this.fileNext[slot] = head;
    if (head !== NONE) this.filePrev[head] = slot;
    this.fileHead[file] = slot;
  }

  private unlinkFromFile(file: number, slot: number): void {
    const p = this.filePrev[slot]!;
    const n = this.fileNext[slot]!;
    if (p === NONE) this.fileHead[file] = n;
    else this.fileNext[p] = n;
    if (n !== NONE) this.filePrev[n] = p;
  }
}
