// Kept hand-written (docs/libraries.md): npm's identical MurmurHash3 packages are 5–7× slower here, the fast ones hash UTF-16 units, not UTF-8.
/**
 * String hashing for placement. MurmurHash3 (x86, 32-bit) over the UTF-8 bytes of the string, in
 * pure JS: paths are short, so the per-call cost of node:crypto (an object, a native call, a
 * Buffer) dominates there; bench/ring.ts measures murmur3 against md5/sha1 per key.
 *
 * Hashing the UTF-8 bytes (not UTF-16 code units) keeps the value identical to any other
 * MurmurHash3_x86_32 implementation, so a non-JS client can compute the same placement.
 * "Two 32-bit hashes" are obtained with different seeds.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixK(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

function mixH(h: number, k: number): number {
  h ^= mixK(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, tail: number, tailLen: number, len: number): number {
  if (tailLen > 0) h ^= mixK(tail);
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function murmur3Bytes(bytes: Uint8Array, seed: number): number {
  let h = seed | 0;
  const len = bytes.length;
  const end = len & ~3;
  let i = 0;
  for (; i < end; i += 4)
    h = mixH(h, bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
  let tail = 0;
  for (let s = 0; i < len; i++, s += 8) tail |= bytes[i]! << s;
  return finish(h, tail, len & 3, len);
}

/**
 * MurmurHash3_x86_32 of the UTF-8 encoding of `key`, as an unsigned 32-bit integer.
 * ASCII strings (nearly every path) are hashed straight from their char codes, without encoding.
 *
 * @example hash32('/sales/2024/07/part-00042.parquet', 0) // same value as mmh3.hash(s, 0, signed=False)
 */
export function hash32(key: string, seed = 0): number {
  const len = key.length;
  const end = len & ~3;
  let h = seed | 0;
  let i = 0;
  for (; i < end; i += 4) {
    const a = key.charCodeAt(i);
    const b = key.charCodeAt(i + 1);
    const c = key.charCodeAt(i + 2);
    const d = key.charCodeAt(i + 3);
    if ((a | b | c | d) > 0x7f) return murmur3Bytes(Buffer.from(key, 'utf8'), seed);
    h = mixH(h, a | (b << 8) | (c << 16) | (d << 24));
  }
  let tail = 0;
  for (let s = 0; i < len; i++, s += 8) {
    const c = key.charCodeAt(i);
    if (c > 0x7f) return murmur3Bytes(Buffer.from(key, 'utf8'), seed);
    tail |= c << s;
  }
  return finish(h, tail, len & 3, len);
}

// Odd multiplier distinct from jump's stream increment, so probe i's hash is not one of the
// draws jump made for the primary.
const PROBE_STEP = 0x7feb352d;

/**
 * The `i`-th derived hash of a key hash `h` (i ≥ 1), for replica probes: one string hash per
 * lookup, then a cheap mix per probe instead of re-hashing the path with another seed.
 */
export function probeHash(h: number, i: number): number {
  return mix32((h + Math.imul(i, PROBE_STEP)) ^ 0x5bd1e995);
}

/**
 * splitmix32's output function: a bijective 32-bit mixer. Jump hash feeds it a counter
 * (key hash + i × golden ratio) in place of its 64-bit LCG, whose multiplication needs BigInt in JS.
 */
export function mix32(x: number): number {
  let z = x | 0;
  z ^= z >>> 16;
  z = Math.imul(z, 0x21f0aaad);
  z ^= z >>> 15;
  z = Math.imul(z, 0x735a2d97);
  z ^= z >>> 15;
  return z >>> 0;
}

const TWO_32 = 4294967296;

/** Maps an unsigned 32-bit value to a uniform number in (0, 1]. */
export function unitInterval(u32: number): number {
  return (u32 + 1) / TWO_32;
}
