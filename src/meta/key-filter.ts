/**
 * A Bloom filter of keys: "surely absent" or "maybe present", in a fixed 1 MiB. The metadata
 * store keeps one over attribute keys: most files have no attributes (no pin, no TTL), so a status
 * of a file outside the value cache would otherwise cost a second LevelDB read only to find none
 * — half the reads of a random stat over 10 M entries.
 *
 * Keys are only ever added (a removed key stays "maybe": one wasted read), so the filter is filled
 * by a scan of the existing keys after open — in the background, so a start never waits on it —
 * and by every write; until the scan ends it answers "maybe" for everything. At 8 M bits and 3
 * hashes the false-positive rate is ~1 % at 870k keys and ~10 % at 2.4 M; past that it still
 * answers correctly, only less often "absent".
 */
const BITS = 1 << 23;
const MASK = BITS - 1;

export class KeyFilter {
  readonly #bits = new Uint32Array(BITS >>> 5);
  #ready = false;
  #keys = 0;

  /** Whether `key` may be present (always true until markReady()). */
  mightHave(key: string): boolean {
    if (!this.#ready) return true;
    const [a, b] = hashes(key);
    for (let i = 0; i < 3; i++) {
      const bit = (a + i * b) & MASK;
      if ((this.#bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  add(key: string): void {
    const [a, b] = hashes(key);
    for (let i = 0; i < 3; i++) {
      const bit = (a + i * b) & MASK;
      this.#bits[bit >>> 5]! |= 1 << (bit & 31);
    }
    this.#keys++;
  }

  /** Every key that existed when the filter was created has been add()ed. */
  markReady(): void {
    this.#ready = true;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Keys added (with repeats): how full the filter is. */
  get added(): number {
    return this.#keys;
  }
}

/** Two 32-bit FNV-1a hashes (different offsets) of the key's UTF-16 units; the second odd. */
function hashes(key: string): [number, number] {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
  }
  h2 ^= h2 >>> 15;
  return [h1 >>> 0, (h2 | 1) >>> 0];
}
