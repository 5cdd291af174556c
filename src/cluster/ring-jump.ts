/**
 * Jump consistent hash (Lamping & Veach 2014): maps a key to one of `numBuckets` numbered buckets
 * with no table, moving only 1/(n+1) of keys when bucket n is appended. Buckets here are virtual:
 * nodes sorted by id, each holding a run of consecutive buckets proportional to its weight.
 *
 * Limits (measured in bench/ring.ts): only adding or removing the LAST buckets is graceful. A
 * node whose id sorts in the middle shifts every later node's buckets, so roughly half the keys
 * move. Weights are quantised to whole buckets (weight / minWeight, rounded; scaled down so the
 * total stays ≤ 16 buckets per node), so ratios such as 1.5 : 1 are only approximated.
 *
 * Replicas: re-run jump on probeHash(keyHash, 1), (…, 2), … and skip nodes already taken.
 */
import { hash32, mix32, probeHash, unitInterval } from './hash.js';
import type { RingNode } from './ring.js';
import { RingBase } from './ring-base.js';

const GOLDEN = 0x9e3779b9;
const MAX_BUCKETS_PER_NODE = 16;

/**
 * Jump hash with a splitmix32 stream seeded by `h` instead of the paper's 64-bit LCG: the
 * algorithm only needs a deterministic uniform sequence per key.
 */
export function jumpBucket(h: number, numBuckets: number): number {
  let b = -1;
  let j = 0;
  let state = h | 0;
  while (j < numBuckets) {
    b = j;
    state = (state + GOLDEN) | 0;
    j = Math.floor((b + 1) / unitInterval(mix32(state)));
  }
  return b;
}

export class JumpRing extends RingBase {
  readonly algorithm = 'jump' as const;
  /** Virtual bucket → node index. */
  private readonly buckets: Uint32Array;

  /** `nodes` must be canonical (see canonicalNodes). */
  constructor(nodes: readonly RingNode[]) {
    super(nodes);
    const minWeight = nodes.reduce((m, n) => Math.min(m, n.weight), Number.POSITIVE_INFINITY);
    const ratios = nodes.map((n) => n.weight / minWeight);
    const total = ratios.reduce((s, r) => s + r, 0);
    const scale = Math.min(1, (MAX_BUCKETS_PER_NODE * nodes.length) / Math.max(total, 1));
    const counts = ratios.map((r) => Math.max(1, Math.round(r * scale)));
    this.buckets = new Uint32Array(counts.reduce((s, c) => s + c, 0));
    let at = 0;
    counts.forEach((c, node) => {
      this.buckets.fill(node, at, at + c);
      at += c;
    });
  }

  protected primaryIndex(key: string): number {
    return this.buckets[jumpBucket(hash32(key), this.buckets.length)]!;
  }

  protected collect(key: string, want: number, out: number[]): void {
    const nb = this.buckets.length;
    const h = hash32(key);
    if (this.take(out, this.buckets[jumpBucket(h, nb)]!, want)) return;
    const probes = 4 * want + 16;
    for (let i = 1; i <= probes; i++)
      if (this.take(out, this.buckets[jumpBucket(probeHash(h, i), nb)]!, want)) return;
  }
}
