/**
 * Maglev (Eisenbud et al., NSDI 2016): a lookup table of prime size M filled by letting nodes
 * take turns claiming the next free slot of their own permutation (offset + j·skip mod M). A
 * lookup is one hash and one array read. Weights: a node's turns per round are proportional to
 * its weight (credit accumulates weight/maxWeight per round; a turn costs 1), so it fills a
 * proportional share of the table.
 *
 * Replicas: probe the table at probeHash(keyHash, 1), (…, 2), … and skip nodes already taken;
 * after 4·n+16 probes fall back to walking the table from the primary slot (and RingBase appends
 * any node that owns no slot at all). Each replica is therefore itself a Maglev placement, so a
 * node's replica load tracks its weight too.
 *
 * Disruption is near-minimal, not minimal: a change can also reshuffle a few slots between
 * unchanged nodes (the paper's trade-off for perfect balance); bench/ring.ts measures it.
 */
import { StrataError } from '../core/errors.js';
import { hash32, probeHash } from './hash.js';
import type { RingNode } from './ring.js';
import { RingBase } from './ring-base.js';

export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;

const OFFSET_SEED = 0x6d61676c; // 'magl'
const SKIP_SEED = 0x65763031; // 'ev01'

function isPrime(n: number): boolean {
  if (n < 2 || !Number.isInteger(n)) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

export class MaglevRing extends RingBase {
  readonly algorithm = 'maglev' as const;
  readonly tableSize: number;
  /** Slot → node index, or -1 only while filling. */
  private readonly table: Int32Array;

  /** `nodes` must be canonical (see canonicalNodes). */
  constructor(nodes: readonly RingNode[], tableSize = DEFAULT_MAGLEV_TABLE_SIZE) {
    super(nodes);
    if (!isPrime(tableSize) || tableSize > 0x7fffffff)
      throw new StrataError('INVALID_ARGUMENT', `maglev: tableSize must be a prime (got ${tableSize})`);
    // The paper wants M ≫ N (≥ 100·N keeps imbalance around 1%); below N some nodes get no slot.
    if (tableSize < nodes.length)
      throw new StrataError(
        'INVALID_ARGUMENT',
        `maglev: tableSize ${tableSize} is smaller than the node count ${nodes.length}`,
      );
    this.tableSize = tableSize;
    this.table = new Int32Array(tableSize).fill(-1);
    if (nodes.length > 0) this.populate(nodes);
  }

  private populate(nodes: readonly RingNode[]): void {
    // Hot loop of every membership change (3,000 workers: bench/scale.ts): typed arrays, locals,
    // and a conditional subtraction instead of `%`, since pos and skip are both < M.
    const m = this.tableSize;
    const n = nodes.length;
    const table = this.table;
    let maxWeight = 0;
    for (const x of nodes) if (x.weight > maxWeight) maxWeight = x.weight;
    const share = new Float64Array(n);
    const pos = new Int32Array(n); // current slot in the node's permutation
    const skip = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const id = nodes[i]!.id;
      share[i] = nodes[i]!.weight / maxWeight;
      pos[i] = hash32(id, OFFSET_SEED) % m;
      skip[i] = (hash32(id, SKIP_SEED) % (m - 1)) + 1;
    }
    const credit = new Float64Array(n);
    let filled = 0;
    while (filled < m) {
      for (let i = 0; i < n && filled < m; i++) {
        let cr = credit[i]! + share[i]!;
        if (cr < 1) {
          credit[i] = cr;
          continue;
        }
        const step = skip[i]!;
        let c = pos[i]!;
        while (cr >= 1 && filled < m) {
          cr -= 1;
          // M is prime and 0 < skip < M, so the permutation visits every slot: this terminates.
          while (table[c] !== -1) {
            c += step;
            if (c >= m) c -= m;
          }
          table[c] = i;
          c += step;
          if (c >= m) c -= m;
          filled++;
        }
        pos[i] = c;
        credit[i] = cr;
      }
    }
  }

  /** Table slots held by each node (index as in `nodes`): its exact share of primaries. */
  slotCounts(): Uint32Array {
    const counts = new Uint32Array(this.nodes.length);
    for (let i = 0; i < this.table.length; i++) counts[this.table[i]!]!++;
    return counts;
  }

  protected primaryIndex(key: string): number {
    return this.table[hash32(key) % this.tableSize]!;
  }

  protected collect(key: string, want: number, out: number[]): void {
    const m = this.tableSize;
    const h = hash32(key);
    const first = h % m;
    if (this.take(out, this.table[first]!, want)) return;
    const probes = 4 * want + 16;
    for (let i = 1; i <= probes; i++) if (this.take(out, this.table[probeHash(h, i) % m]!, want)) return;
    for (let i = 1; i < m; i++) if (this.take(out, this.table[(first + i) % m]!, want)) return;
  }
}
