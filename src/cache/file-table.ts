/**
 * The fileIds of a page store's cached pages, each held once however many pages and tiers refer
 * to it: a file is a small integer (its slot) that the tiers' page tables key their pages by, so a
 * page costs no string and no object of its own. A slot is reference counted — one reference per
 * page per tier — and freed with its last page.
 *
 * The ids themselves are bytes in one arena Buffer (a fileId is ASCII, [A-Za-z0-9_-]{1,128}:
 * checked by page-key.ts before anything is indexed), ~17 B for a 12-character id where a JS
 * string in an array was ~40 B; the arena is compacted when half of it is freed ids. Lookup is
 * one open-addressing hash table over an Int32Array (linear probing, deletion by backward shift:
 * no tombstones to sweep).
 */

const EMPTY = 0; // buckets hold slot + 1
const FREE = 0xff; // the length of a free slot (ids are at most 128 bytes)

/** FNV-1a over the id's characters (the same over its bytes in the arena). */
function hashOfString(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

export class FileTable {
  private arena = Buffer.allocUnsafe(1024);
  private arenaUsed = 0;
  private arenaDead = 0;
  private offset = new Uint32Array(16);
  private length = new Uint8Array(16).fill(FREE);
  private refs = new Uint32Array(16);
  private buckets = new Int32Array(32);
  private readonly freeSlots: number[] = [];
  private top = 0;
  private live = 0;

  /** Files with at least one page. */
  get size(): number {
    return this.live;
  }

  /**
   * Makes room for `more` files beyond those held (a tier about to load that many pages): sized
   * once instead of doubled — and copied — as they come, so no outgrown arrays are left behind.
   * `idBytes`: the bytes their ids take, if known.
   */
  reserve(more: number, idBytes = 0): void {
    const slots = this.live + more;
    if (slots > this.refs.length) this.growSlots(slots);
    if (slots * 2 > this.buckets.length) this.rehash(2 ** Math.ceil(Math.log2(slots * 2)));
    if (this.arenaUsed + idBytes > this.arena.length) this.growArena(this.arenaUsed + idBytes);
  }

  /** The slot of `fileId`, or -1 when no page of it is held. */
  find(fileId: string): number {
    const mask = this.buckets.length - 1;
    for (let b = hashOfString(fileId) & mask; ; b = (b + 1) & mask) {
      const v = this.buckets[b]!;
      if (v === EMPTY) return -1;
      if (this.is(v - 1, fileId)) return v - 1;
    }
  }

  /** The slot of `fileId` with one more reference (a page of it entered a tier). */
  acquire(fileId: string): number {
    let slot = this.find(fileId);
    if (slot < 0) slot = this.insert(fileId);
    this.refs[slot]!++;
    return slot;
  }

  /** Drops one reference; the file is forgotten with its last. */
  release(slot: number): void {
    if (--this.refs[slot]! > 0) return;
    this.unhash(slot);
    this.arenaDead += this.length[slot]!;
    this.length[slot] = FREE;
    this.freeSlots.push(slot);
    this.live--;
    if (this.arenaDead > 4096 && this.arenaDead * 2 > this.arenaUsed)
      this.compact(this.arenaUsed - this.arenaDead);
  }

  name(slot: number): string {
    const at = this.offset[slot]!;
    return this.arena.toString('latin1', at, at + this.length[slot]!);
  }

  /** Every file held, by slot. */
  *slots(): IterableIterator<number> {
    for (let s = 0; s < this.top; s++) if (this.length[s] !== FREE) yield s;
  }

  private is(slot: number, id: string): boolean {
    const n = this.length[slot]!;
    if (n !== id.length) return false;
    const at = this.offset[slot]!;
    const arena = this.arena;
    for (let i = 0; i < n; i++) if (arena[at + i] !== id.charCodeAt(i)) return false;
    return true;
  }

  private hashOfSlot(slot: number): number {
    const at = this.offset[slot]!;
    const end = at + this.length[slot]!;
    const arena = this.arena;
    let h = 0x811c9dc5;
    for (let i = at; i < end; i++) h = Math.imul(h ^ arena[i]!, 0x01000193);
    return (h ^ (h >>> 15)) >>> 0;
  }

  private insert(id: string): number {
    if ((this.live + 1) * 2 > this.buckets.length) this.rehash(this.buckets.length * 2);
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.top++;
      if (slot >= this.refs.length) this.growSlots(this.refs.length * 2);
    }
    if (this.arenaUsed + id.length > this.arena.length)
      this.growArena(Math.max(this.arena.length * 2, this.arenaUsed + id.length));
    this.arena.write(id, this.arenaUsed, id.length, 'latin1');
    this.offset[slot] = this.arenaUsed;
    this.length[slot] = id.length;
    this.arenaUsed += id.length;
    this.refs[slot] = 0;
    this.place(slot, hashOfString(id));
    this.live++;
    return slot;
  }

  private growArena(n: number): void {
    const arena = Buffer.allocUnsafe(n);
    this.arena.copy(arena, 0, 0, this.arenaUsed);
    this.arena = arena;
  }

  private growSlots(n: number): void {
    const offset = new Uint32Array(n);
    offset.set(this.offset);
    const length = new Uint8Array(n).fill(FREE);
    length.set(this.length);
    const refs = new Uint32Array(n);
    refs.set(this.refs);
    this.offset = offset;
    this.length = length;
    this.refs = refs;
  }

  /** Gives back the arena bytes a reserve() did not need (its size was an upper bound). */
  trim(): void {
    if (this.arena.length - this.arenaUsed > 1 << 20) this.compact(0);
  }

  /**
   * Rewrites the arena with the live ids only and `spare` bytes to grow into (slots and the hash
   * table do not change).
   */
  private compact(spare: number): void {
    const arena = Buffer.allocUnsafe(Math.max(1024, this.arenaUsed - this.arenaDead + spare));
    let used = 0;
    for (let s = 0; s < this.top; s++) {
      const n = this.length[s]!;
      if (n === FREE) continue;
      this.arena.copy(arena, used, this.offset[s]!, this.offset[s]! + n);
      this.offset[s] = used;
      used += n;
    }
    this.arena = arena;
    this.arenaUsed = used;
    this.arenaDead = 0;
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
    let b = this.hashOfSlot(slot) & mask;
    while (buckets[b] !== slot + 1) b = (b + 1) & mask;
    // Backward shift: move later entries of the run into the hole when their home allows it.
    for (let next = (b + 1) & mask; buckets[next] !== EMPTY; next = (next + 1) & mask) {
      const home = this.hashOfSlot(buckets[next]! - 1) & mask;
      if (((next - home) & mask) >= ((next - b) & mask)) {
        buckets[b] = buckets[next]!;
        b = next;
      }
    }
    buckets[b] = EMPTY;
  }

  private rehash(size: number): void {
    this.buckets = new Int32Array(size);
    for (let s = 0; s < this.top; s++) if (this.length[s] !== FREE) this.place(s, this.hashOfSlot(s));
  }
}
