/**
 * Deterministic bytes that do not repeat within megabytes (xorshift32), so an off-by-one or a
 * swapped page shows up as a mismatch. For contract suites and tests.
 */
export function patternBytes(length: number, seed = 7): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
