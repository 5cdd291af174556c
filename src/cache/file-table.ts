/**
 * The fileIds of a page store's cached pages, each held once however many pages and tiers refer
 * to it: a file is a small integer (its slot) that the tiers' page tables key their pages by, so a
 * page costs no string and no object of its own. A slot is reference counted — one reference per
 * page per tier — and freed with its last page. Lookup is one open-addressing hash table over an
 * Int32Array (linear probing, deletion by backward shift: no tombstones to sweep).
 */

const EMPTY = 0; // buckets hold slot + 1

/** FNV-1a over the id's characters (a fileId is ASCII: [A-Za-z0-9_-]). */
function hashOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

export class FileTable {
  private names: (string | undefined)[] = [];
  private refs = new Uint32Array(16);
  private buckets = new Int32Array(32);
  private readonly freeSlots: number[] = [];
  private live = 0;

  /** Files with at least one page. */
  get size(): number {
    return this.live;
  }

  /** One past the highest slot ever used: arrays indexed by file slot need this many entries. */
  get slotLimit(): number {
    return this.names.length;
  }

  /** The slot of `fileId`, or -1 when no page of it is held. */
  find(fileId: string): number {
    const mask = this.buckets.length - 1;
    for (let b = hashOf(fileId) & mask; ; b = (b + 1) & mask) {
      const v = this.buckets[b]!;
      if (v === EMPTY) return -1;
      if (this.names[v - 1] === fileId) return v - 1;
    }
  }

  /**
   * The slot of `fileId` with one more reference (a page of it entered a tier). `flatId`: the
   * caller made the string itself (not a slice of a larger one), so it is kept as it is.
   */
  acquire(fileId: string, flatId = false): number {
    let slot = this.find(fileId);
    if (slot < 0) slot = this.insert(flatId ? fileId : flat(fileId));
    this.refs[slot]!++;
    return slot;
  }

  /** Drops one reference; the file is forgotten with its last. */
  release(slot: number): void {
    if (--this.refs[slot]! > 0) return;
    this.unhash(slot);
    this.names[slot] = undefined;
    this.freeSlots.push(slot);
    this.live--;
  }

  name(slot: number): string {
    return this.names[slot]!;
  }

  /** Every file held, by slot. */
  *slots(): IterableIterator<number> {
    for (let s = 0; s < this.names.length; s++) if (this.names[s] !== undefined) yield s;
  }

  private insert(name: string): number {
    if ((this.live + 1) * 2 > this.buckets.length) this.rehash(this.buckets.length * 2);
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.names.length;
      this.names.push(name);
      if (slot >= this.refs.length) {
        const refs = new Uint32Array(this.refs.length * 2);
        refs.set(this.refs);
        this.refs = refs;
      }
    } else this.names[slot] = name;
    this.refs[slot] = 0;
    this.place(slot, hashOf(name));
    this.live++;
    return slot;
  }

  private place(slot: number, hash: number): void {
    const mask = this.buckets.length - 1;
    let b = hash & mask;
    while (this.buckets[b] !== EMPTY) b = (b + 1) & mask;
    this.buckets[b] = slot + 1;
  }

  private unhash(slot: number): void {
    const buckets = this.buckets;
    const mask = buckets.length - 1;
    let b = hashOf(this.names[slot]!) & mask;
    while (buckets[b] !== slot + 1) b = (b + 1) & mask;
    // Backward shift: move later entries of the run into the hole when their home allows it.
    for (let next = (b + 1) & mask; buckets[next] !== EMPTY; next = (next + 1) & mask) {
      const home = hashOf(this.names[buckets[next]! - 1]!) & mask;
      if (((next - home) & mask) >= ((next - b) & mask)) {
        buckets[b] = buckets[next]!;
        b = next;
      }
    }
    buckets[b] = EMPTY;
  }

  private rehash(size: number): void {
    this.buckets = new Int32Array(size);
    for (let s = 0; s < this.names.length; s++) {
      const name = this.names[s];
      if (name !== undefined) this.place(s, hashOf(name));
    }
  }
}

/**
 * The same characters in a string of their own: an id sliced out of a larger string (a request
 * path, a line) would keep that string alive for as long as the page is cached.
 */
function flat(id: string): string {
  return Buffer.from(id, 'latin1').toString('latin1');
}
